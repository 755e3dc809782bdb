// Package queue is opcancel's Pub/Sub side, on cloud.google.com/go/pubsub/v2:
// receiving deliveries with flow control and lease extension, watching the
// streaming pull so that readiness tells the truth, and publishing result
// events and submitted cancel requests.
//
// It satisfies the interfaces the worker defines for what it consumes: a
// Subscriber is a worker.Source of deliveries, a Publisher a worker.Sink for
// result events. The command wires them together.
//
// This package is internal to opcancel and is not a public API; the module is v0.
package queue
