package publisher_test

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"opcancel/lro"
	"opcancel/metrics"
	"opcancel/publisher"
	"opcancel/worker"
)

// cancelsAll is an API on which every cancel is accepted and every operation
// is then done, cancelled.
type cancelsAll struct{}

func (cancelsAll) Cancel(context.Context, *lro.Service, string) error { return nil }
func (cancelsAll) Get(context.Context, *lro.Service, string) (*lro.Operation, error) {
	return &lro.Operation{Done: true, Error: &lro.Status{Code: lro.Cancelled}}, nil
}

// handle runs a message through the worker with the built-in services and
// returns its outcome and the detail of its log line.
func handle(t *testing.T, data []byte, attrs map[string]string) (worker.Outcome, string) {
	t.Helper()
	core, logs := observer.New(zapcore.InfoLevel)
	w, err := worker.New(worker.DefaultConfig(), worker.Deps{Table: lro.NewTable(nil), Ops: cancelsAll{},
		Log: zap.New(core), Metrics: metrics.New(prometheus.NewRegistry())})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	noop := func() error { return nil }
	o := w.Handle(context.Background(), worker.Delivery{ID: "1", Data: data, Attributes: attrs, Ack: noop, Nack: noop})
	detail, _ := logs.All()[0].ContextMap()["detail"].(string)
	return o, detail
}

// TestPublisherAgreesWithTheWorker: what Message accepts, the worker cancels
// (never invalid); what it refuses, the worker finds invalid for the same
// reason, given the same request written naively.
func TestPublisherAgreesWithTheWorker(t *testing.T) {
	t.Parallel()
	// Fake time: the worker polls a second after a cancel.
	synctest.Test(t, agreesWithTheWorker)
}

func agreesWithTheWorker(t *testing.T) {
	accepted := []publisher.Request{
		{Name: "operations/a"},
		{Name: "operations/b", Service: "vault.googleapis.com", Reason: "incident 4711", Batch: "b1"},
		{Name: "//androidmanagement.googleapis.com/enterprises/e/devices/d/operations/o"},
		{Name: "operations/c", Reason: strings.Repeat("é", 256), Batch: strings.Repeat("b", 128)},
	}
	for _, r := range accepted {
		m, err := publisher.Message(r)
		if err != nil {
			t.Errorf("Message(%+v) = %v, want it accepted", r, err)
			continue
		}
		if o, detail := handle(t, m.Data, m.Attributes); o != worker.Cancelled {
			t.Errorf("the worker ended %s as %s (%s), want cancelled", m.Data, o, detail)
		}
	}
	refused := []publisher.Request{
		{},
		{Name: "operations/../admin"},
		{Name: "operations/a b"},
		{Name: "operations/a\nb"},
		{Name: "operations/" + strings.Repeat("a", 1100)},
		{Name: "operations/" + strings.Repeat("a", 5000)},
		{Name: "//vault.googleapis.com/operations/a", Service: "androidmanagement.googleapis.com"},
		{Name: "//vault.googleapis.com"},
		{Name: "operations/a", Reason: strings.Repeat("r", 257)},
		{Name: "operations/a", Batch: strings.Repeat("b", 129)},
		{Name: "operations/a", Batch: "b\xff"},
	}
	for _, r := range refused {
		_, err := publisher.Message(r)
		if err == nil {
			t.Errorf("Message(%q) accepted, want it refused", r.Name)
			continue
		}
		// Written naively: the JSON form, or with the fields as attributes
		// (JSON cannot carry bad UTF-8).
		data, attrs := r.Encode(), map[string]string(nil)
		if !utf8.ValidString(r.Batch) {
			data, attrs = []byte(r.Name), map[string]string{"batch": r.Batch}
		}
		o, detail := handle(t, data, attrs)
		if o != worker.Invalid || !strings.HasSuffix(err.Error(), ": "+detail) {
			t.Errorf("Message(%.40q) = %v; the worker: %s (%s), want invalid for the same reason", r.Name, err, o, detail)
		}
	}
}
