package main

import (
	"slices"
	"strings"
	"time"
)

// workerTarget is what a worker works on: its subscriptions and results
// topic (and their project), its services file, and how it reaches the
// APIs. `worker` and `doctor` share it, so that the doctor, run as the
// worker's init container, reads the worker's own flags and OPCANCEL_*
// variables and checks exactly what the worker will use.
type workerTarget struct {
	pubsubBase     `kong:"set='project_of=the subscription and results topic',set='full_name=subscription name'"`
	Subscription   []string      `required:"" sep:"," help:"Subscription ID or projects/P/subscriptions/S; repeat it, or separate with commas, for several: the partitions of docs/deploy.md#partitions."`
	Config         string        `help:"YAML services file; the built-in services apply without it." type:"path"`
	ResultsTopic   string        `help:"Topic ID or full name for result events; none if empty."`
	Auth           string        `default:"${auth}" enum:"adc,none" help:"adc: Application Default Credentials; none: no credentials (emulators, tests)."`
	RequestTimeout time.Duration `default:"${request_timeout}" help:"Timeout of one API request, from sending to the last byte of the answer."`
}

// resolveSubscriptions returns the full names of --subscription, each once.
func (c *workerTarget) resolveSubscriptions(e *env) ([]string, error) {
	var subs []string
	for _, id := range c.Subscription {
		sub, err := c.resolve(e, "subscriptions", "--subscription", strings.TrimSpace(id))
		if err != nil {
			return nil, err
		}
		if slices.Contains(subs, sub) {
			return nil, usagef("--subscription %s: given twice", sub)
		}
		subs = append(subs, sub)
	}
	if len(subs) == 0 {
		return nil, usagef("--subscription: none given")
	}
	return subs, nil
}
