package main

import (
	"context"
	"fmt"
	"io"

	"opcancel/lro"
	"opcancel/queue"
)

// doctorCmd is `opcancel doctor`: it checks, before traffic, what a worker
// with the same flags needs (docs/contract.md#opcancel-doctor), one line
// per check with the command that fixes a failure.
type doctorCmd struct {
	workerTarget
	BatchesTopic string `help:"Topic ID or projects/P/topics/T of the batch manifests that submit publishes and opcancel wait reads, for a deployment whose operators follow batches: check that it exists and that it and the results topic keep their messages; not checked when empty."`
	FailOn       string `default:"any" enum:"any,config" help:"any: every failed check fails the doctor; config: only configuration faults do (a missing resource, IAM, credentials, an answer that is not Google's, no such method), and a service that does not answer is a warning, as in the init container, where one sick API must not hold every new pod in Init."`
	Output       string `default:"text" enum:"text,json" help:"text: one line per check; json: one JSON object with every check."`
}

// --fail-on=config: a service that does not answer is a warning.
const failOnConfig = "config"

// Check statuses: a failure fails the doctor; a warning is a check that
// could not be made, or an answer worth a look; a skip does not apply.
const (
	checkOK   = "ok"
	checkFail = "fail"
	checkWarn = "warn"
	checkSkip = "skip"
)

// doctorCheck is one line of the doctor's report.
type doctorCheck struct {
	Name   string `json:"check"`
	Status string `json:"status"`
	// Detail says what was found; text from an API is escaped (printable).
	Detail string `json:"detail"`
	// Fix is the command that fixes a failure, or lets a warning's check be made.
	Fix string `json:"fix,omitempty"`
}

// doctor holds what the checks share.
type doctor struct {
	cmd   *doctorCmd
	e     *env
	ps    *queue.Client
	table *lro.Table
	// subscription is the one the checks are about: each of subscriptions
	// in turn, then the first.
	subscription  string
	subscriptions []string
	resultsTopic  string
	batchesTopic  string
	// emulator is PUBSUB_EMULATOR_HOST: Pub/Sub without IAM.
	emulator string
	// id is the identity the checks run as, found on first use.
	id *identity
}

func (c *doctorCmd) Run(ctx context.Context, e *env) error {
	d := &doctor{cmd: c, e: e, emulator: e.getenv("PUBSUB_EMULATOR_HOST")}
	var err error
	if d.subscriptions, err = c.resolveSubscriptions(e); err != nil {
		return err
	}
	if c.ResultsTopic != "" {
		if d.resultsTopic, err = c.resolve(e, "topics", "--results-topic", c.ResultsTopic); err != nil {
			return err
		}
	}
	if c.BatchesTopic != "" {
		if d.batchesTopic, err = c.resolve(e, "topics", "--batches-topic", c.BatchesTopic); err != nil {
			return err
		}
	}
	if c.RequestTimeout <= 0 {
		return usagef("--request-timeout %s: must be positive", c.RequestTimeout)
	}
	if d.table, err = loadServicesFile(c.Config, c.Auth); err != nil {
		return err
	}
	// Without credentials nothing else can be checked: the one line that
	// says so, with its fix, is the report.
	creds := d.credentialsCheck(ctx)
	if creds.Status == checkFail {
		return writeDoctorReport(e.stdout, c.Output, []doctorCheck{creds})
	}
	if d.ps, err = c.connect(ctx, e); err != nil {
		return err
	}
	defer d.ps.Close()
	checks := []doctorCheck{creds}
	for i, sub := range d.subscriptions {
		d.subscription = sub
		checks = append(checks, d.pubsubChecks(ctx, i == 0)...)
	}
	d.subscription = d.subscriptions[0]
	checks = append(checks, d.waitChecks(ctx)...)
	checks = append(checks, d.quotaProjectCheck(ctx))
	checks = append(checks, d.serviceChecks(ctx)...)
	return writeDoctorReport(e.stdout, c.Output, checks)
}

// unanswered is the status of a check whose service did not answer (no
// connection, a timeout, a server that cannot serve now): a failure,
// or with --fail-on=config a warning.
func (d *doctor) unanswered() string {
	if d.cmd.FailOn == failOnConfig {
		return checkWarn
	}
	return checkFail
}

// writeDoctorReport writes the checks and returns an exitError (status 1) when one failed.
func writeDoctorReport(w io.Writer, output string, checks []doctorCheck) error {
	failed := 0
	for _, c := range checks {
		if c.Status == checkFail {
			failed++
		}
	}
	var err error
	if output == "json" {
		err = writeJSON(w, struct {
			OK     bool          `json:"ok"`
			Checks []doctorCheck `json:"checks"`
		}{failed == 0, checks})
	} else {
		for _, c := range checks {
			line := fmt.Sprintf("%-4s  %s: %s", textStatus(c.Status), c.Name, c.Detail)
			if c.Fix != "" {
				line += "; fix: " + c.Fix
			}
			if _, err = fmt.Fprintln(w, line); err != nil {
				break
			}
		}
	}
	if err != nil {
		return err
	}
	if failed > 0 {
		return exitError{1, fmt.Errorf("doctor: %d of %d checks failed", failed, len(checks))}
	}
	return nil
}

func textStatus(s string) string {
	if s == checkFail {
		return "FAIL"
	}
	return s
}

// maxAPIText bounds an API's text in a line of the report.
const maxAPIText = 512

// printable is s from an API, fit for a terminal (escape), cut to
// maxAPIText bytes (lro.Clip).
func printable(s string) string {
	return lro.Clip(escape(s), maxAPIText)
}

// errText is err's text, fit for a terminal.
func errText(err error) string { return printable(err.Error()) }
