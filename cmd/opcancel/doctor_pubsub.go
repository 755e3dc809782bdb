package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	"opcancel/queue"
)

// The permissions the worker's Pub/Sub calls need (docs/operations.md#iam).
const (
	permConsume = "pubsub.subscriptions.consume"
	permPublish = "pubsub.topics.publish"
)

// pubsubChecks: the subscription exists and may be consumed, the results
// topic (withResults: once, with the first subscription) may be published
// to, the subscription has a dead-letter policy whose topic exists, and the
// Pub/Sub service agent may use it.
func (d *doctor) pubsubChecks(ctx context.Context, withResults bool) []doctorCheck {
	checks := []doctorCheck{}
	exists, policy, policyErr := d.readSubscription(ctx)
	consume := d.permissionCheck(ctx, "consume", d.subscription, permConsume, "subscriptions", "roles/pubsub.subscriber")
	switch {
	case exists == checkFail || consume.notFound:
		checks = append(checks, doctorCheck{Name: "subscription", Status: checkFail,
			Detail: d.subscription + " does not exist",
			Fix:    fmt.Sprintf("PROJECT=%s SUBSCRIPTION=%s deploy/pubsub/provision.sh", projectOf(d.subscription), lastSegment(d.subscription))})
		if withResults {
			checks = append(checks, d.resultsCheck(ctx))
		}
		return checks // nothing else about it can be checked
	case exists == checkOK || consume.answered:
		checks = append(checks, doctorCheck{Name: "subscription", Status: checkOK, Detail: d.subscription + " exists"})
	default:
		checks = append(checks, d.subscriptionUnknown(policyErr))
	}
	checks = append(checks, consume.doctorCheck)
	if withResults {
		checks = append(checks, d.resultsCheck(ctx))
	}
	dl := d.deadLetterCheck(ctx, policy, policyErr)
	checks = append(checks, dl)
	if policy == nil {
		return checks
	}
	dlt := d.permissionCheck(ctx, "dead-letter topic", policy.Topic, permPublish, "topics", "roles/pubsub.publisher")
	if dlt.notFound {
		return append(checks, dlt.doctorCheck)
	}
	// The worker never publishes dead letters, Pub/Sub's service agent
	// does: the caller's own permission on the topic is no failure.
	dlt.doctorCheck.Status, dlt.doctorCheck.Fix = checkOK, ""
	dlt.doctorCheck.Detail = policy.Topic + " exists"
	return append(checks, dlt.doctorCheck, d.serviceAgentCheck(ctx, policy.Topic))
}

// resultsCheck: the results topic may be published to.
func (d *doctor) resultsCheck(ctx context.Context) doctorCheck {
	if d.resultsTopic == "" {
		return doctorCheck{Name: "results topic", Status: checkSkip, Detail: "no --results-topic: no result events are published"}
	}
	return d.permissionCheck(ctx, "results topic", d.resultsTopic, permPublish, "topics", "roles/pubsub.publisher").doctorCheck
}

// readSubscription reads the subscription's dead-letter policy: exists is
// checkFail when it does not exist, checkWarn when it could not be read.
func (d *doctor) readSubscription(ctx context.Context) (exists string, p *queue.DeadLetterPolicy, err error) {
	ctx, cancel := context.WithTimeout(ctx, d.cmd.RequestTimeout)
	defer cancel()
	p, err = d.ps.DeadLetterPolicy(ctx, d.subscription)
	switch {
	case errors.Is(err, queue.ErrNotFound):
		return checkFail, nil, err
	case err != nil:
		return checkWarn, nil, err
	}
	return checkOK, p, nil
}

// subscriptionUnknown is the subscription's line when neither reading it
// (failing with err) nor the permission test answered.
func (d *doctor) subscriptionUnknown(err error) doctorCheck {
	c := doctorCheck{Name: "subscription", Status: checkWarn, Detail: "not checked: " + d.subscription + " could not be read, nor its permissions tested: " + errText(err)}
	if pubsubUnanswered(err) {
		c.Status = d.unanswered()
	}
	return c
}

// deadLetterCheck says whether the subscription has a dead-letter policy.
func (d *doctor) deadLetterCheck(ctx context.Context, p *queue.DeadLetterPolicy, err error) doctorCheck {
	c := doctorCheck{Name: "dead-letter policy"}
	switch {
	case errors.Is(err, queue.ErrPermissionDenied):
		c.Status = checkWarn
		c.Detail = "not checked: " + d.member(ctx) + " may not read " + d.subscription + " (pubsub.subscriptions.get)"
		c.Fix = d.grant("subscriptions", d.subscription, d.member(ctx), "roles/pubsub.viewer")
	case err != nil:
		c.Status, c.Detail = checkWarn, "not checked: "+errText(err)
	case p == nil:
		c.Status = checkFail
		c.Detail = d.subscription + " has none: messages whose answers stay transient come back forever"
		c.Fix = fmt.Sprintf("PROJECT=%s SUBSCRIPTION=%s deploy/pubsub/provision.sh", projectOf(d.subscription), lastSegment(d.subscription))
	default:
		c.Status = checkOK
		c.Detail = fmt.Sprintf("%s after %d delivery attempts", p.Topic, p.MaxDeliveryAttempts)
	}
	return c
}

// permissionResult is a permission check, and whether the resource is missing.
type permissionResult struct {
	doctorCheck
	notFound bool
	// answered: Pub/Sub answered the test, so the resource exists.
	answered bool
}

// permissionCheck asks Pub/Sub whether the caller holds perm on resource
// (of kind "topics" or "subscriptions"); the fix grants role.
func (d *doctor) permissionCheck(ctx context.Context, name, resource, perm, kind, role string) permissionResult {
	ctx, cancel := context.WithTimeout(ctx, d.cmd.RequestTimeout)
	defer cancel()
	held, err := d.ps.Permissions(ctx, resource, []string{perm})
	r := permissionResult{doctorCheck: doctorCheck{Name: name}}
	switch grpcstatus.Code(err) {
	case codes.OK:
		r.answered = true
	case codes.NotFound:
		r.notFound = true
		r.Status, r.Detail = checkFail, resource+" does not exist"
		if kind == "topics" {
			r.Fix = fmt.Sprintf("gcloud pubsub topics create %s --project=%s", lastSegment(resource), projectOf(resource))
		}
		return r
	case codes.Unimplemented:
		r.Status, r.Detail = checkSkip, d.noIAM(perm, resource)
		return r
	default:
		r.Status, r.Detail = checkWarn, "not checked: "+errText(err)
		return r
	}
	member := d.member(ctx)
	if slices.Contains(held, perm) {
		r.Status, r.Detail = checkOK, fmt.Sprintf("%s has %s on %s", member, perm, resource)
		return r
	}
	r.Status, r.Detail = checkFail, fmt.Sprintf("%s lacks %s on %s", member, perm, resource)
	r.Fix = d.grant(kind, resource, member, role)
	return r
}

// noIAM is the detail of a check the server cannot answer: an emulator.
func (d *doctor) noIAM(what, resource string) string {
	if d.emulator != "" {
		return fmt.Sprintf("%s on %s not checked: the Pub/Sub emulator (PUBSUB_EMULATOR_HOST) has no IAM", what, resource)
	}
	return fmt.Sprintf("%s on %s not checked: Pub/Sub answered that it does not implement IAM", what, resource)
}

// grant is the command that grants member role on resource.
func (d *doctor) grant(kind, resource, member, role string) string {
	return fmt.Sprintf("gcloud pubsub %s add-iam-policy-binding %s --project=%s --member=%s --role=%s",
		kind, lastSegment(resource), projectOf(resource), shellWord(member), role)
}

// Roles that carry the permission the Pub/Sub service agent needs, on the
// resource itself.
var (
	publisherRoles  = []string{"roles/pubsub.publisher", "roles/pubsub.editor", "roles/pubsub.admin", "roles/editor", "roles/owner"}
	subscriberRoles = []string{"roles/pubsub.subscriber", "roles/pubsub.editor", "roles/pubsub.admin", "roles/editor", "roles/owner"}
	serviceAgent    = regexp.MustCompile(`^serviceAccount:service-(\d+)@gcp-sa-pubsub\.iam\.gserviceaccount\.com$`)
)

// serviceAgentCheck: the Pub/Sub service agent of the subscription's
// project may publish to the dead-letter topic and subscribe to the
// subscription; without both, dead-lettering silently does not happen.
// It reads both IAM policies (pubsub.*.getIamPolicy: roles/pubsub.admin).
func (d *doctor) serviceAgentCheck(ctx context.Context, topic string) doctorCheck {
	c := doctorCheck{Name: "Pub/Sub service agent"}
	ctx, cancel := context.WithTimeout(ctx, d.cmd.RequestTimeout)
	defer cancel()
	onTopic, err := d.ps.Bindings(ctx, topic)
	var onSub map[string][]string
	if err == nil {
		onSub, err = d.ps.Bindings(ctx, d.subscription)
	}
	switch grpcstatus.Code(err) {
	case codes.OK:
	case codes.Unimplemented:
		c.Status, c.Detail = checkSkip, d.noIAM("the service agent's roles", topic)
		return c
	case codes.PermissionDenied:
		c.Status = checkWarn
		c.Detail = "not checked: " + d.member(ctx) + " may not read the IAM policies of " + topic + " and " + d.subscription + " (pubsub.topics.getIamPolicy, in roles/pubsub.admin); run the doctor once as an administrator"
		return c
	default:
		c.Status, c.Detail = checkWarn, "not checked: "+errText(err)
		return c
	}
	project := projectOf(d.subscription)
	number := agentNumber(onTopic, onSub)
	agent := "serviceAccount:service-" + number + "@gcp-sa-pubsub.iam.gserviceaccount.com"
	if number == "" {
		agent = "serviceAccount:service-$(gcloud projects describe " + project + " --format='value(projectNumber)')@gcp-sa-pubsub.iam.gserviceaccount.com"
	}
	var missing, fixes []string
	if !agentHasRole(onTopic, publisherRoles, number) {
		missing = append(missing, "publish to "+topic)
		fixes = append(fixes, d.grant("topics", topic, agent, "roles/pubsub.publisher"))
	}
	if !agentHasRole(onSub, subscriberRoles, number) {
		missing = append(missing, "subscribe to "+d.subscription)
		fixes = append(fixes, d.grant("subscriptions", d.subscription, agent, "roles/pubsub.subscriber"))
	}
	if len(missing) == 0 {
		c.Status, c.Detail = checkOK, "service-"+number+"@gcp-sa-pubsub may publish dead letters and take them from the subscription"
		return c
	}
	c.Status = checkFail
	c.Detail = "the Pub/Sub service agent of " + project + " may not " + strings.Join(missing, " nor ") +
		" (granted on the resource itself; a grant on the project is not seen): dead letters are not moved"
	c.Fix = strings.Join(fixes, " && ")
	return c
}

// agentNumber is the project number of the Pub/Sub service agent named in
// either policy, if exactly one is.
func agentNumber(policies ...map[string][]string) string {
	found := map[string]bool{}
	for _, p := range policies {
		for _, members := range p {
			for _, m := range members {
				if s := serviceAgent.FindStringSubmatch(m); s != nil {
					found[s[1]] = true
				}
			}
		}
	}
	if len(found) != 1 {
		return ""
	}
	for n := range found {
		return n
	}
	return ""
}

// agentHasRole reports whether one of roles is granted to the service agent of
// the project number (any agent's, when the number is not known: there is
// none then).
func agentHasRole(policy map[string][]string, roles []string, number string) bool {
	for _, role := range roles {
		for _, m := range policy[role] {
			if s := serviceAgent.FindStringSubmatch(m); s != nil && (number == "" || s[1] == number) {
				return true
			}
		}
	}
	return false
}

// shellWord quotes s for a POSIX shell when it needs it, leaving $(…) to
// expand.
func shellWord(s string) string {
	if strings.ContainsAny(s, " '\"$()") {
		return `"` + strings.NewReplacer(`"`, `\"`, "`", "\\`").Replace(s) + `"`
	}
	return s
}
