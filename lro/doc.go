// Package lro is opcancel's client for the REST surface of Google long-running
// operations (google.longrunning): operations.cancel, operations.get and
// operations.list against an allowlisted table of services.
//
// It holds everything that decides whether and where a request may be sent:
// the catalog of Google APIs with an operations cancel (generated from the
// discovery documents by go generate; see catalog.go), the table of enabled
// services and its YAML file, AIP path templates, operation-name validation,
// routing and regional endpoints, each API's dialect, the Google error model
// with its retry hints, the one classification of answers into transient and
// permanent, and authentication.
// A name or host that fails validation never produces a request, and a bearer
// token is never attached to a plain-http request or sent to a host other than
// the service's own endpoints.
//
// The client never retries: retries live in one layer only, the worker.
//
// This package is internal to opcancel and is not a public API; the module is v0.
package lro
