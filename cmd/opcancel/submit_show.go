package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"opcancel/lro"
	"opcancel/request"
)

// showConcurrency bounds the operations.get requests of --show in flight,
// all services together; each service's rate bounds them further.
const showConcurrency = 8

// shownOperation is one name's operation as --show found it.
type shownOperation struct {
	Service string `json:"service"`
	Name    string `json:"name"`
	// State is running, done, not_found, unreadable (the API has no
	// operations.get for the name) or error (the get failed).
	State string `json:"state"`
	// Outcome is how a done operation ended, in the words of the outcomes:
	// cancelled, completed, failed or done_no_result.
	Outcome string `json:"outcome,omitempty"`
	Type    string `json:"type"`
	// Message is the operation's error, or the get's.
	Message string `json:"message,omitempty"`
}

// States of shownOperation.
const (
	stateRunning    = "running"
	stateDone       = "done"
	stateNotFound   = "not_found"
	stateUnreadable = "unreadable"
	stateError      = "error"
)

// dryRun validates and counts the names b would publish, publishing
// nothing; with --show it first reads each one's operation and prints
// what it found.
func (c *submitCmd) dryRun(ctx context.Context, e *env, sub submission, b *batchPlan) error {
	if !c.Show {
		return c.publish(ctx, e, sub, b)
	}
	client, err := c.apiClient(ctx, e, sub.table)
	if err != nil {
		return err
	}
	reqs, _ := b.routed()
	shown, err := showOperations(ctx, client, reqs, newProgress(isTerminal(e.stderr), e.stderr, len(reqs), "reading"))
	if err != nil {
		return err
	}
	sum, err := sub.publishAll(ctx, b.todo, b.invalid)
	if err != nil {
		return err
	}
	sum.earlier = b.earlier
	if c.Output == "json" {
		fields := sum.fields()
		fields["operations"] = shown
		return writeJSON(e.stdout, fields)
	}
	writeShown(e.stdout, shown)
	fmt.Fprintln(e.stdout, sum)
	return nil
}

// routed returns the requests b publishes (with a journal, those it lacks),
// decoded and routed as the worker will, and their count per service.
func (b *batchPlan) routed() ([]request.Request, serviceCounts) {
	reqs := make([]request.Request, len(b.todo))
	counts := serviceCounts{}
	for i, o := range b.todo {
		reqs[i] = o.req
		counts[o.req.Service]++
	}
	return reqs, counts
}

// showOperations reads the operation of each request with one
// operations.get, at most showConcurrency at once and each service's
// requests at its rate, and returns what it found in the requests' order.
// A get that fails is shown as such; only an interruption is an error.
func showOperations(ctx context.Context, client *lro.Client, reqs []request.Request, bar progress) ([]shownOperation, error) {
	defer bar.finish()
	limiters := map[string]*rate.Limiter{}
	for _, svc := range client.Table().Services() {
		limiters[svc.Host] = rate.NewLimiter(rate.Inf, 1)
		if svc.Rate > 0 {
			limiters[svc.Host] = rate.NewLimiter(rate.Limit(svc.Rate), 1)
		}
	}
	shown := make([]shownOperation, len(reqs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(showConcurrency)
	for i, req := range reqs {
		svc := client.Table().Lookup(req.Service)
		if err := limiters[svc.Host].Wait(gctx); err != nil {
			break
		}
		g.Go(func() error {
			shown[i] = showOne(gctx, client, svc, req.Name)
			bar.add()
			return nil
		})
	}
	g.Wait()
	return shown, ctx.Err()
}

// showOne reads one operation.
func showOne(ctx context.Context, client *lro.Client, svc *lro.Service, name string) shownOperation {
	s := shownOperation{Service: svc.Host, Name: name}
	if !svc.Readable(name) {
		s.State, s.Message = stateUnreadable, svc.Host+" has no operations.get for it"
		return s
	}
	op, err := client.Get(ctx, svc, name)
	switch {
	case lro.CodeOf(err) == lro.NotFound:
		s.State, s.Message = stateNotFound, err.Error()
	case err != nil:
		s.State, s.Message = stateError, err.Error()
	case !op.Done:
		s.State, s.Type = stateRunning, op.Type
	default:
		s.State, s.Type = stateDone, op.Type
		s.Outcome, s.Message = doneOutcome(op)
	}
	return s
}

// doneOutcome is how a done operation ended, named as the worker's
// outcome for it would be (docs/contract.md#outcomes), and its error.
func doneOutcome(op *lro.Operation) (outcome, message string) {
	switch {
	case op.Error != nil && op.Error.Code == lro.Cancelled:
		return "cancelled", op.Error.Message
	case op.Error != nil:
		return "failed", op.Error.Code.String() + ": " + op.Error.Message
	case op.HasResponse:
		return "completed", ""
	}
	return "done_no_result", ""
}

// writeShown prints the operations as a table, then how many are in each
// state. Everything from the API is escaped.
func writeShown(w io.Writer, shown []shownOperation) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "service\tname\tstate\ttype\tmessage")
	counts := map[string]int{}
	for _, s := range shown {
		state := s.State
		if s.Outcome != "" {
			state += " (" + s.Outcome + ")"
		}
		counts[s.State]++
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", escape(s.Service), escape(s.Name), state,
			escape(orDash(s.Type)), escape(lro.Clip(s.Message, 120)))
	}
	tw.Flush()
	var parts []string
	for _, st := range []string{stateRunning, stateDone, stateNotFound, stateUnreadable, stateError} {
		if counts[st] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", st, counts[st]))
		}
	}
	if len(parts) > 0 {
		fmt.Fprintf(w, "operations: %s\n", strings.Join(parts, ", "))
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
