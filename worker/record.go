package worker

import (
	"context"
	"encoding/json"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"opcancel/lro"
	"opcancel/metrics"
)

// Event is a result event: the JSON data the worker publishes for every
// acked delivery (see docs/contract.md#result-events).
type Event struct {
	Name            string    `json:"name"`
	Service         string    `json:"service"`
	Outcome         Outcome   `json:"outcome"`
	Code            string    `json:"code"`
	Message         string    `json:"message"`
	Attempts        int       `json:"attempts"`
	Polls           int       `json:"polls"`
	Batch           string    `json:"batch"`
	Reason          string    `json:"reason"`
	MessageID       string    `json:"messageId"`
	DeliveryAttempt int       `json:"deliveryAttempt"`
	ReceivedAt      time.Time `json:"receivedAt"`
	FinishedAt      time.Time `json:"finishedAt"`
	// FromMemory is set when the outcome was settled from the memory of
	// outcomes, without a request.
	FromMemory bool `json:"fromMemory"`
}

// initOutcomeSeries creates the outcome series at zero, so that they exist
// from start-up: the count and the job duration of every outcome of every
// configured host, and of invalid for the unknown service; and the count
// settled from memory of every configured host and the unknown service.
func initOutcomeSeries(m *metrics.Metrics, hosts []string) {
	for _, h := range hosts {
		for _, o := range Outcomes() {
			m.Jobs.WithLabelValues(h, string(o))
			m.JobDuration.WithLabelValues(h, string(o))
		}
		m.JobsFromMemory.WithLabelValues(h)
	}
	m.Jobs.WithLabelValues(metrics.UnknownService, string(Invalid))
	m.JobDuration.WithLabelValues(metrics.UnknownService, string(Invalid))
	m.JobsFromMemory.WithLabelValues(metrics.UnknownService)
}

// What reaches a log line or a result event is bounded (Cloud Logging
// drops entries over 256 KB): a name is cut after maxLoggedName bytes (a
// valid one is at most 1024), the detail and message after maxDetailBytes;
// each marked as cut (lro.Clip).
const (
	maxLoggedName  = 1100
	maxDetailBytes = 4096
)

// finish is the one place an outcome is recorded: metrics, one log line, the
// result event for acked outcomes, then the ack or nack. It reports whether
// the delivery was acked.
func (w *Worker) finish(ctx context.Context, j *job, r result) (acked bool) {
	finished := time.Now()
	name := lro.Clip(j.req.Name, maxLoggedName)
	r.message = lro.Clip(r.message, maxDetailBytes)
	w.metrics.Jobs.WithLabelValues(j.service, string(r.outcome)).Inc()
	w.metrics.JobDuration.WithLabelValues(j.service, string(r.outcome)).Observe(finished.Sub(j.received).Seconds())
	if r.fromMemory {
		w.metrics.JobsFromMemory.WithLabelValues(j.service).Inc()
	}
	w.logOutcome(j, r, name, finished)
	defer j.endSpan(r)

	if !r.outcome.Acks() || r.nack {
		w.settle(j, j.d.Nack, "nack")
		return false
	}
	if w.sink != nil {
		if err := w.publish(ctx, j, r, name, finished); err != nil {
			w.metrics.ResultPublishFailures.Inc()
			w.log.Warn("result event not published; the delivery is nacked and will be redelivered",
				append(w.traceFields(j), zap.String("service", j.service), zap.String("name", name),
					zap.String("outcome", string(r.outcome)), zap.String("messageId", j.d.ID), zap.Error(err))...)
			w.settle(j, j.d.Nack, "nack")
			return false
		}
	}
	w.settle(j, j.d.Ack, "ack")
	return true
}

// logOutcome writes the outcome's one log line.
func (w *Worker) logOutcome(j *job, r result, name string, finished time.Time) {
	level := zapcore.InfoLevel
	if r.outcome.warns() {
		level = zapcore.WarnLevel
	}
	fields := make([]zap.Field, 0, 14)
	fields = append(fields,
		zap.String("service", j.service),
		zap.String("name", name),
		zap.String("outcome", string(r.outcome)),
		zap.String("code", r.code),
		zap.Int("attempts", j.attempts),
		zap.Int("polls", j.polls),
		zap.String("messageId", j.d.ID),
		zap.String("batch", j.req.Batch),
		zap.String("reason", j.req.Reason),
		zap.Float64("durationSeconds", finished.Sub(j.received).Seconds()),
	)
	if r.message != "" {
		fields = append(fields, zap.String("detail", r.message))
	}
	if j.d.DeliveryAttempt > 0 {
		fields = append(fields, zap.Int("deliveryAttempt", j.d.DeliveryAttempt))
	}
	if r.fromMemory {
		fields = append(fields, zap.Bool("fromMemory", true))
	}
	fields = append(fields, w.traceFields(j)...)
	w.log.Log(level, "operation "+string(r.outcome), fields...)
}

// publish sends the outcome's result event to the sink.
func (w *Worker) publish(ctx context.Context, j *job, r result, name string, finished time.Time) error {
	ev := Event{
		Name: name, Service: j.service, Outcome: r.outcome, Code: r.code, Message: r.message,
		Attempts: j.attempts, Polls: j.polls, Batch: j.req.Batch, Reason: j.req.Reason,
		MessageID: j.d.ID, DeliveryAttempt: j.d.DeliveryAttempt,
		ReceivedAt: j.received.UTC(), FinishedAt: finished.UTC(), FromMemory: r.fromMemory,
	}
	data, _ := json.Marshal(ev)
	attrs := map[string]string{"outcome": string(r.outcome), "service": j.service}
	if j.req.Batch != "" {
		attrs["batch"] = j.req.Batch
	}
	// The event must go out even when shutdown has begun, and the sink
	// bounds its own wait: only it can give up on an event for good, so
	// that a nacked delivery has none (see Sink).
	return w.sink.Publish(context.WithoutCancel(ctx), data, attrs)
}

// settle acks or nacks; a failure (exactly-once subscriptions report it)
// means the message will be delivered again.
func (w *Worker) settle(j *job, f func() error, what string) {
	j.settled = true
	if f == nil {
		return
	}
	if err := f(); err != nil {
		w.log.Warn(what+" not confirmed; the message may be delivered again",
			append(w.traceFields(j), zap.String("service", j.service), zap.String("messageId", j.d.ID), zap.Error(err))...)
	}
}
