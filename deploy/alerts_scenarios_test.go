package deploy

import (
	"fmt"
	"maps"
	"slices"
)

// An alertScenario is a stretch of series, in promtool's notation over one
// scrape a minute, and the alerts that must be firing at its end: all of
// them, so every other alert is checked silent.
type alertScenario struct {
	name   string
	series seriesSet
	at     string // promtool eval_time
	fires  []firing
}

type firing struct {
	alert  string
	labels map[string]string
}

// seriesSet maps a series (name{labels}) to its values.
type seriesSet map[string]string

func (s seriesSet) with(more seriesSet) seriesSet {
	out := maps.Clone(s)
	maps.Copy(out, more)
	return out
}

func (s seriesSet) without(series ...string) seriesSet {
	out := maps.Clone(s)
	for _, k := range series {
		delete(out, k)
	}
	return out
}

func (s seriesSet) sorted() [][2]string {
	var out [][2]string
	for _, k := range slices.Sorted(maps.Keys(s)) {
		out = append(out, [2]string{k, s[k]})
	}
	return out
}

// The namespace, the worker pod and the services of the scenarios (the
// services are the two built-in ones, as the running worker's are).
const (
	alertNS   = "opcancel"
	workerPod = "opcancel-5d8f7c9b4-x7k2p"
	vaultHost = "vault.googleapis.com"
	amapiHost = "androidmanagement.googleapis.com"
)

// own is a series of the worker's scrape job; pairs are label, value.
func own(name string, pairs ...string) string {
	s := fmt.Sprintf(`%s{job="opcancel",namespace=%q,pod=%q`, name, alertNS, workerPod)
	for i := 0; i+1 < len(pairs); i += 2 {
		s += fmt.Sprintf(",%s=%q", pairs[i], pairs[i+1])
	}
	return s + "}"
}

func jobsOf(service, outcome string) string {
	return own("opcancel_jobs_total", "service", service, "outcome", outcome)
}

// ksm is a kube-state-metrics series about pod in namespace.
func ksm(name, namespace, pod string, pairs ...string) string {
	s := fmt.Sprintf(`%s{job="kube-state-metrics",namespace=%q,pod=%q`, name, namespace, pod)
	for i := 0; i+1 < len(pairs); i += 2 {
		s += fmt.Sprintf(",%s=%q", pairs[i], pairs[i+1])
	}
	return s + "}"
}

// healthy is one worker cancelling a request a second for each service,
// ready, never restarted, for 90 minutes.
func healthy() seriesSet {
	return seriesSet{
		`up{job="opcancel",namespace="opcancel",pod="` + workerPod + `"}`:                            "1x90",
		jobsOf(vaultHost, "cancelled"):                                                               "0+60x90",
		jobsOf(amapiHost, "cancelled"):                                                               "0+60x90",
		jobsOf(vaultHost, "retry_exhausted"):                                                         "0x90",
		own("opcancel_jobs_in_flight"):                                                               "40x90",
		own("opcancel_api_misdirected_requests_total", "service", vaultHost):                         "0x90",
		own("opcancel_result_publish_failures_total"):                                                "0x90",
		ksm("kube_pod_status_ready", alertNS, workerPod, "condition", "true"):                        "1x90",
		ksm("kube_pod_status_ready", alertNS, workerPod, "condition", "false"):                       "0x90",
		ksm("kube_pod_container_status_restarts_total", alertNS, workerPod, "container", "opcancel"): "0x90",
	}
}

func svc(alert, service string) firing {
	return firing{alert, map[string]string{"namespace": alertNS, "service": service}}
}

func inNamespace(alert string) firing {
	return firing{alert, map[string]string{"namespace": alertNS}}
}

func onPod(alert string) firing {
	return firing{alert, map[string]string{"namespace": alertNS, "pod": workerPod}}
}

// alertScenarios: a healthy worker and the dev overlay's provisioning Job
// fire nothing; each alert fires on its own series; an API outage and a
// wrong endpoint each page once.
func alertScenarios() []alertScenario {
	const provision = "opcancel-provision-7xq2d"
	return []alertScenario{
		{name: "a healthy worker", series: healthy(), at: "60m"},
		{
			// A finished Job's pod is not ready and its container restarted;
			// so is an unscraped dev worker's.
			name: "the dev overlay's provisioning Job, next to a healthy worker", at: "60m",
			series: healthy().with(seriesSet{
				ksm("kube_pod_status_ready", alertNS, provision, "condition", "false"):                                         "1x90",
				ksm("kube_pod_container_status_restarts_total", alertNS, provision, "container", "provision"):                  "0+1x90",
				ksm("kube_pod_status_ready", "opcancel-dev", provision, "condition", "false"):                                  "1x90",
				ksm("kube_pod_status_ready", "opcancel-dev", "opcancel-6c4b8-dev", "condition", "false"):                       "1x90",
				ksm("kube_pod_container_status_restarts_total", "opcancel-dev", "opcancel-6c4b8-dev", "container", "opcancel"): "0+1x90",
			}),
		},
		{
			name: "an API outage pages once", at: "60m",
			series: healthy().with(seriesSet{
				jobsOf(vaultHost, "cancelled"):                                             "0x90",
				jobsOf(vaultHost, "retry_exhausted"):                                       "0+30x90",
				own("opcancel_retries_total", "service", vaultHost, "code", "UNAVAILABLE"): "0+600x90",
				own("opcancel_jobs_in_flight"):                                             "900x90",
			}),
			fires: []firing{svc("OpcancelRetryExhausted", vaultHost)},
		},
		{
			name: "a wrong endpoint pages once", at: "60m",
			series: healthy().with(seriesSet{
				jobsOf(vaultHost, "cancelled"):                                       "0x90",
				jobsOf(vaultHost, "retry_exhausted"):                                 "0+30x90",
				own("opcancel_api_misdirected_requests_total", "service", vaultHost): "0+300x90",
			}),
			fires: []firing{svc("OpcancelMisdirectedRequests", vaultHost)},
		},
		{
			name: "denied", at: "60m",
			series: healthy().with(seriesSet{jobsOf(vaultHost, "denied"): "0+30x90"}),
			fires:  []firing{svc("OpcancelDeniedHigh", vaultHost)},
		},
		{
			name: "publisher mistakes open a ticket", at: "60m",
			series: healthy().with(seriesSet{
				jobsOf("unknown", "invalid"):  "0+60x90",
				jobsOf(amapiHost, "rejected"): "0+20x90",
			}),
			fires: []firing{svc("OpcancelPublisherErrorsHigh", "unknown"), svc("OpcancelPublisherErrorsHigh", amapiHost)},
		},
		{
			// One name outside an allow list, at minute 30.
			name: "a forbidden name opens a ticket", at: "40m",
			series: healthy().with(seriesSet{jobsOf(vaultHost, "forbidden"): "0x30 1x60"}),
			fires:  []firing{svc("OpcancelForbidden", vaultHost)},
		},
		{
			name: "and the ticket closes 15 minutes after the last one", at: "50m",
			series: healthy().with(seriesSet{jobsOf(vaultHost, "forbidden"): "0x30 1x60"}),
		},
		{
			name: "unverified", at: "60m",
			series: healthy().with(seriesSet{jobsOf(amapiHost, "unverified"): "0+30x90"}),
			fires:  []firing{svc("OpcancelUnverifiedHigh", amapiHost)},
		},
		{
			name: "unimplemented", at: "60m",
			series: healthy().with(seriesSet{jobsOf(vaultHost, "unimplemented"): "0+120x90"}),
			fires:  []firing{svc("OpcancelUnimplementedHigh", vaultHost)},
		},
		{
			name: "result events fail", at: "60m",
			series: healthy().with(seriesSet{own("opcancel_result_publish_failures_total"): "0+10x90"}),
			fires:  []firing{inNamespace("OpcancelResultPublishFailures")},
		},
		{
			name: "stalled: jobs held, no outcome since minute 20", at: "60m",
			series: healthy().with(seriesSet{
				jobsOf(vaultHost, "cancelled"): "0+60x20 1200x70",
				jobsOf(amapiHost, "cancelled"): "0+60x20 1200x70",
			}),
			fires: []firing{inNamespace("OpcancelStalled")},
		},
		{
			name: "not ready", at: "60m",
			series: healthy().with(seriesSet{
				ksm("kube_pod_status_ready", alertNS, workerPod, "condition", "true"):  "0x90",
				ksm("kube_pod_status_ready", alertNS, workerPod, "condition", "false"): "1x90",
			}),
			fires: []firing{onPod("OpcancelNotReady")},
		},
		{
			name: "one pod crash-looping opens a ticket", at: "60m",
			series: healthy().with(seriesSet{
				ksm("kube_pod_container_status_restarts_total", alertNS, workerPod, "container", "opcancel"): "0+1x90",
			}),
			fires: []firing{onPod("OpcancelCrashLooping")},
		},
		{
			// Every pod down pages once, as OpcancelDown.
			name: "every pod crash-looping pages once", at: "60m",
			series: healthy().with(seriesSet{
				`up{job="opcancel",namespace="opcancel",pod="` + workerPod + `"}`:                            "0x90",
				jobsOf(vaultHost, "cancelled"):                                                               "0x90",
				jobsOf(amapiHost, "cancelled"):                                                               "0x90",
				own("opcancel_jobs_in_flight"):                                                               "0x90",
				ksm("kube_pod_status_ready", alertNS, workerPod, "condition", "true"):                        "0x90",
				ksm("kube_pod_status_ready", alertNS, workerPod, "condition", "false"):                       "1x90",
				ksm("kube_pod_container_status_restarts_total", alertNS, workerPod, "container", "opcancel"): "0+1x90",
			}),
			fires: []firing{inNamespace("OpcancelDown"), onPod("OpcancelNotReady"), onPod("OpcancelCrashLooping")},
		},
		{
			name: "no worker at all", at: "60m",
			series: healthy().without(`up{job="opcancel",namespace="opcancel",pod="`+workerPod+`"}`,
				jobsOf(vaultHost, "cancelled"), jobsOf(amapiHost, "cancelled"), jobsOf(vaultHost, "retry_exhausted"),
				own("opcancel_jobs_in_flight"), own("opcancel_api_misdirected_requests_total", "service", vaultHost),
				own("opcancel_result_publish_failures_total")),
			fires: []firing{{"OpcancelDown", map[string]string{"job": "opcancel"}}},
		},
	}
}
