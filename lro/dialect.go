package lro

import (
	"encoding/json"
	"strings"
)

// Dialect is the REST shape of an API's operations: how a cancel is sent and
// what an operation resource looks like (see
// docs/contract.md#requests).
type Dialect int

const (
	// DialectAIP is google.longrunning: POST {prefix}{name}:cancel; the
	// operation has done, error and response.
	DialectAIP Dialect = iota
	// DialectStorage is Cloud Storage's: POST {prefix}{name}/cancel; the
	// operation is a google.longrunning one.
	DialectStorage
	// DialectCloudSQL is the Cloud SQL Admin API's: POST {prefix}{name}/cancel;
	// the operation has status DONE and error.errors[].
	DialectCloudSQL
	// DialectContainer is the GKE API's: POST {prefix}{name}:cancel; the
	// operation has status DONE and error as a google.rpc.Status.
	DialectContainer
)

// String returns the dialect's name: aip, storage, cloudsql or container.
func (d Dialect) String() string {
	switch d {
	case DialectAIP:
		return "aip"
	case DialectStorage:
		return "storage"
	case DialectCloudSQL:
		return "cloudsql"
	case DialectContainer:
		return "container"
	}
	return "unknown"
}

// CancelSuffix is what follows the name in the path of a cancel: ":cancel"
// or "/cancel".
func (d Dialect) CancelSuffix() string {
	if d == DialectStorage || d == DialectCloudSQL {
		return "/cancel"
	}
	return ":cancel"
}

// decodeOperation decodes the operation resource of an answer to get.
func (d Dialect) decodeOperation(body []byte) (*Operation, error) {
	switch d {
	case DialectCloudSQL:
		var w sqlOperation
		if err := json.Unmarshal(body, &w); err != nil {
			return nil, err
		}
		return w.operation(""), nil
	case DialectContainer:
		var w containerOperation
		if err := json.Unmarshal(body, &w); err != nil {
			return nil, err
		}
		return w.operation(""), nil
	}
	return decodeOperation(body)
}

// decodeListPage decodes an answer to list of the collection parent. Names
// are full operation names under parent: Cloud SQL and GKE list bare
// operation IDs, Cloud Storage names of another form.
func (d Dialect) decodeListPage(body []byte, parent string) (*ListPage, error) {
	if d == DialectAIP {
		return decodeListPage(body)
	}
	var w struct {
		Items         []sqlOperation    `json:"items"`
		Operations    []json.RawMessage `json:"operations"`
		NextPageToken string            `json:"nextPageToken"`
	}
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, err
	}
	p := &ListPage{NextPageToken: w.NextPageToken}
	for _, it := range w.Items {
		p.Operations = append(p.Operations, it.operation(parent))
	}
	for _, raw := range w.Operations {
		op, err := d.decodeOperation(raw)
		if err != nil {
			return nil, err
		}
		op.Name = childName(parent, op.Name)
		p.Operations = append(p.Operations, op)
	}
	return p, nil
}

// childName is the full name under parent of an operation whose resource
// names it id (or a longer name ending in it).
func childName(parent, id string) string {
	if parent == "" || id == "" {
		return id
	}
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		id = id[i+1:]
	}
	return parent + "/" + id
}

// sqlOperation is a Cloud SQL operation: done when its status is DONE,
// failed when error.errors[] has an entry. It has no response: DONE without
// errors is a success (completed). Its creation time is insertTime (when
// the request was queued), else startTime.
type sqlOperation struct {
	Name          string          `json:"name"`
	Status        string          `json:"status"`
	OperationType string          `json:"operationType"`
	InsertTime    json.RawMessage `json:"insertTime"`
	StartTime     json.RawMessage `json:"startTime"`
	Error         *struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	} `json:"error"`
}

func (w *sqlOperation) operation(parent string) *Operation {
	op := &Operation{Name: childName(parent, w.Name), Done: w.Status == "DONE",
		Type: operationType(w.OperationType), Created: firstTime(w.InsertTime, w.StartTime)}
	if !op.Done {
		return op
	}
	if w.Error == nil || len(w.Error.Errors) == 0 {
		op.HasResponse = true
		return op
	}
	// A cancelled operation reports an error whose code names the cancellation.
	first := w.Error.Errors[0]
	op.Error = &Status{Code: Unknown, Message: Clip(first.Code+": "+first.Message, MaxMessageBytes)}
	for _, e := range w.Error.Errors {
		if strings.Contains(strings.ToUpper(e.Code), "CANCEL") {
			op.Error = &Status{Code: Cancelled, Message: Clip(e.Code+": "+e.Message, MaxMessageBytes)}
			break
		}
	}
	return op
}

// containerOperation is a GKE operation: done when its status is DONE,
// failed with its google.rpc.Status error (or, from older servers, with a
// statusMessage alone). It has no response: DONE without an error is a
// success (completed). Its creation time is startTime, the only one GKE
// reports.
type containerOperation struct {
	Name          string          `json:"name"`
	Status        string          `json:"status"`
	Error         *Status         `json:"error"`
	StatusMessage string          `json:"statusMessage"`
	OperationType string          `json:"operationType"`
	StartTime     json.RawMessage `json:"startTime"`
}

func (w *containerOperation) operation(parent string) *Operation {
	op := &Operation{Name: childName(parent, w.Name), Done: w.Status == "DONE",
		Type: operationType(w.OperationType), Created: firstTime(w.StartTime)}
	switch {
	case !op.Done:
	case w.Error != nil && w.Error.Code != OK:
		op.Error = w.Error
	case w.StatusMessage != "":
		op.Error = &Status{Code: Unknown, Message: Clip(w.StatusMessage, MaxMessageBytes)}
	default:
		op.HasResponse = true
	}
	return op
}
