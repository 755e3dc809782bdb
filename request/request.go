// Package request is the cancel request of docs/contract.md#the-message: the
// Request type, its three wire forms (Decode reads them, Encode writes the
// JSON one), and the rules a request obeys whatever services the worker has
// enabled (Validate): the form, the limits, UTF-8 and the name rules.
//
// It is the one implementation of those rules: the worker decodes every
// delivery with Decode, lro checks every name with ValidateName before a
// request is sent, and package publisher refuses what the worker would refuse.
// Whether a name's service is enabled and its pattern matches depends on the
// worker's services file and is checked where that file is (lro.Table.Route).
//
// It imports only the standard library, so that publishers can use it. The
// module is v0: this API may change.
package request

import "encoding/json"

// Limits of a message (see docs/contract.md#limits).
const (
	// MaxDataBytes is the longest message data.
	MaxDataBytes = 4096
	// MaxReasonChars is the longest reason, in characters.
	MaxReasonChars = 256
	// MaxBatchChars is the longest batch ID, in characters.
	MaxBatchChars = 128
	// MaxNameBytes is the longest operation name.
	MaxNameBytes = 1024
)

// Request is a cancel request.
type Request struct {
	// Name is the operation name, without any "//host/" prefix.
	Name string `json:"name"`
	// Service is the host the message named, if any.
	Service string `json:"service,omitempty"`
	// Reason says why the operation is cancelled.
	Reason string `json:"reason,omitempty"`
	// Batch groups the requests of one submission.
	Batch string `json:"batch,omitempty"`
}

// Encode renders the request in the JSON form of a message (see
// docs/contract.md#the-message).
func (r Request) Encode() []byte {
	b, _ := json.Marshal(r)
	return b
}
