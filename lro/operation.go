package lro

import (
	"bytes"
	"encoding/json"
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
}

// Status is a google.rpc.Status without its details; its message is cut
// to MaxMessageBytes.
type Status struct {
	Code    Code
	Message string
}

// wireOperation is the JSON form; response is scanned but not retained.
type wireOperation struct {
	Name     string   `json:"name"`
	Done     bool     `json:"done"`
	Error    *Status  `json:"error"`
	Response presence `json:"response"`
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
	op := &Operation{Name: w.Name, Done: w.Done, Error: w.Error, HasResponse: bool(w.Response)}
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
