// Package worker is opcancel's pipeline: from one delivery to exactly one
// outcome. It decodes and validates the message, routes the name to a
// configured service, sends operations.cancel, retries transient failures
// within a budget, verifies by polling operations.get, and then, in one place,
// records the outcome (metrics, one log line, an optional result event) and
// acks or nacks the delivery.
//
// The worker defines the small interfaces it consumes (Source of deliveries,
// Sink for result events, Operations client); the queue and lro packages
// satisfy them, and tests satisfy them with fakes.
//
// This package is internal to opcancel and is not a public API; the module is v0.
package worker
