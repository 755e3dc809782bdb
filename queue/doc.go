// Package queue is opcancel's Pub/Sub side, on cloud.google.com/go/pubsub/v2:
// receiving deliveries with flow control and lease extension, watching the
// streaming pull so that readiness tells the truth, and publishing result
// events and submitted cancel requests.
//
// It knows nothing of the pipeline: the command wires a Subscriber to the
// worker and a Publisher to the worker's result sink.
//
// This package is internal to opcancel and is not a public API; the module is v0.
package queue
