// Package publisher publishes cancel requests for opcancel's worker: one
// Pub/Sub message per request, in the JSON form of
// docs/contract.md#the-message, with the attributes service and batch.
//
// A request is checked first by the worker's own rules (request.Validate, the
// one implementation): what Publish refuses, the worker would record as
// invalid, and what it publishes is never invalid for its form, its limits or
// its name. Whether the worker has the request's service enabled is decided
// by the worker's services file, which publishers do not see; name the
// service (Request.Service, or a full name "//host/name") so that routing
// does not depend on which services are enabled.
//
// It depends on the Pub/Sub client and package request only, so that other
// services can import it. The module is v0: this API may change.
package publisher

import (
	"context"
	"fmt"

	"cloud.google.com/go/pubsub/v2"

	"opcancel/request"
)

// Request is a cancel request: the operation name, its service, a reason and
// a batch ID (see docs/contract.md#the-message).
type Request = request.Request

// maxAttributeValueBytes is Pub/Sub's limit on an attribute's value. A
// value over it fails the whole publish request the message is bundled in.
const maxAttributeValueBytes = 1024

// Message returns the message that publishes r: its JSON form as the data,
// and the attributes service and batch when they are set. A request that
// the worker would find invalid is refused with the worker's reason.
func Message(r Request) (*pubsub.Message, error) {
	v, err := request.Validate(r)
	if err != nil {
		return nil, fmt.Errorf("cancel request %q: %w", clip(r.Name), err)
	}
	attrs := map[string]string{}
	// The service is in the data as well: an attribute too long for Pub/Sub
	// is left out (such a host is enabled nowhere, and the worker says so).
	if v.Service != "" && len(v.Service) <= maxAttributeValueBytes {
		attrs["service"] = v.Service
	}
	if v.Batch != "" {
		attrs["batch"] = v.Batch
	}
	return &pubsub.Message{Data: v.Encode(), Attributes: attrs}, nil
}

// Publish checks r, publishes it with p and waits until the server has it;
// it returns the message ID.
func Publish(ctx context.Context, p *pubsub.Publisher, r Request) (id string, err error) {
	m, err := Message(r)
	if err != nil {
		return "", err
	}
	id, err = p.Publish(ctx, m).Get(ctx)
	if err != nil {
		return "", fmt.Errorf("publish cancel request %q: %w", r.Name, err)
	}
	return id, nil
}

// clip bounds a name quoted in an error: an invalid one can be 4 KiB.
func clip(name string) string {
	const max = 200
	if len(name) <= max {
		return name
	}
	return name[:max] + "…"
}
