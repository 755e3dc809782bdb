package lro

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
)

// Operation is the part of a google.longrunning.Operation that opcancel
// needs. Metadata and the response payload are never kept: they can hold
// secrets (an Android reset password, a Vault export's contents); only whether
// a response is present survives decoding.
type Operation struct {
	Name string
	Done bool
	// Error is the operation's final error, when done with one; nil when
	// absent, or when its code is 0 (OK), which is no error.
	Error *Status
	// HasResponse reports that the operation finished with a response.
	HasResponse bool
	// Type is the kind of operation, as its API names it: the type of its
	// metadata (without "type.googleapis.com/") in the google.longrunning
	// dialects, operationType in Cloud SQL's and GKE's; empty when the API
	// names none. It is cut to MaxTypeBytes.
	Type string
	// Created is when the operation was created, where its API reports it
	// (see docs/contract.md#requests); zero when it does not.
	Created time.Time
}

// MaxTypeBytes bounds an operation's Type.
const MaxTypeBytes = 256

// Status is a google.rpc.Status without its details; its message is cut
// to MaxMessageBytes.
type Status struct {
	Code    Code
	Message string
}

// wireOperation is the JSON form; response is scanned but not retained,
// and of the metadata only its type and creation time are.
type wireOperation struct {
	Name     string       `json:"name"`
	Done     bool         `json:"done"`
	Error    *Status      `json:"error"`
	Response presence     `json:"response"`
	Metadata wireMetadata `json:"metadata"`
}

// wireMetadata is what opcancel reads of a google.longrunning operation's
// metadata: its type, and its creation time where APIs put it, which is
// the first of createTime (most APIs' OperationMetadata),
// genericMetadata.createTime (Vertex AI), commonMetadata.createTime
// (Document AI, Cloud Storage) and startTime (Vault's count operations
// call their creation time so). Nothing else of the metadata is kept, and
// metadata of another shape is no metadata: it never fails the operation.
type wireMetadata struct {
	typ     string
	created time.Time
}

func (m *wireMetadata) UnmarshalJSON(b []byte) error {
	type times struct {
		CreateTime json.RawMessage `json:"createTime"`
	}
	var w struct {
		Type      json.RawMessage `json:"@type"`
		StartTime json.RawMessage `json:"startTime"`
		times
		Generic times `json:"genericMetadata"`
		Common  times `json:"commonMetadata"`
	}
	if json.Unmarshal(b, &w) != nil {
		return nil
	}
	m.typ = operationType(strings.TrimPrefix(jsonString(w.Type), "type.googleapis.com/"))
	m.created = firstTime(w.CreateTime, w.Generic.CreateTime, w.Common.CreateTime, w.StartTime)
	return nil
}

// jsonString is the string raw holds; empty when it holds another value.
func jsonString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// firstTime is the first of the raw values that is an RFC 3339 time, the
// form of the APIs' google-datetime fields; zero when none is.
func firstTime(raws ...json.RawMessage) time.Time {
	for _, raw := range raws {
		if t, err := time.Parse(time.RFC3339Nano, jsonString(raw)); err == nil {
			return t
		}
	}
	return time.Time{}
}

// operationType bounds an API's name for the kind of an operation.
func operationType(s string) string {
	return Clip(s, MaxTypeBytes)
}

// presence records whether a JSON value other than null was present,
// discarding the value itself.
type presence bool

func (p *presence) UnmarshalJSON(b []byte) error {
	*p = presence(!bytes.Equal(bytes.TrimSpace(b), []byte("null")))
	return nil
}

// UnmarshalJSON decodes a google.rpc.Status, ignoring its details.
func (s *Status) UnmarshalJSON(b []byte) error {
	var w struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	s.Code, s.Message = Code(w.Code), Clip(w.Message, MaxMessageBytes)
	return nil
}

func (w *wireOperation) operation() *Operation {
	op := &Operation{Name: w.Name, Done: w.Done, Error: w.Error, HasResponse: bool(w.Response),
		Type: w.Metadata.typ, Created: w.Metadata.created}
	if op.Error != nil && op.Error.Code == OK {
		// "error": {} is a status of code 0: OK, which is no error.
		op.Error = nil
	}
	return op
}

// decodeOperation decodes one Operation from a JSON body.
func decodeOperation(body []byte) (*Operation, error) {
	var w wireOperation
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, err
	}
	return w.operation(), nil
}

// ListPage is one page of operations.list.
type ListPage struct {
	Operations    []*Operation
	NextPageToken string
}

func decodeListPage(body []byte) (*ListPage, error) {
	var w struct {
		Operations    []wireOperation `json:"operations"`
		NextPageToken string          `json:"nextPageToken"`
	}
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, err
	}
	p := &ListPage{NextPageToken: w.NextPageToken, Operations: make([]*Operation, len(w.Operations))}
	for i := range w.Operations {
		p.Operations[i] = w.Operations[i].operation()
	}
	return p, nil
}
