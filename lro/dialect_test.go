package lro

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeOperationByDialect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		dialect Dialect
		body    string
		want    *Operation
	}{
		{DialectCloudSQL, `{"kind":"sql#operation","name":"o1","status":"RUNNING"}`, &Operation{Name: "o1"}},
		{DialectCloudSQL, `{"name":"o1","status":"DONE"}`, &Operation{Name: "o1", Done: true, HasResponse: true}},
		{DialectCloudSQL, `{"name":"o1","status":"DONE","error":{"errors":[{"code":"OPERATION_CANCELLED","message":"cancelled by user"}]}}`,
			&Operation{Name: "o1", Done: true, Error: &Status{Code: Cancelled, Message: "OPERATION_CANCELLED: cancelled by user"}}},
		{DialectCloudSQL, `{"name":"o1","status":"DONE","error":{"errors":[{"code":"ERROR_RDBMS","message":"disk full"},{"code":"X"}]}}`,
			&Operation{Name: "o1", Done: true, Error: &Status{Code: Unknown, Message: "ERROR_RDBMS: disk full"}}},
		{DialectContainer, `{"name":"operation-1","status":"ABORTING"}`, &Operation{Name: "operation-1"}},
		{DialectContainer, `{"name":"operation-1","status":"DONE","error":{"code":1,"message":"cancelled"}}`,
			&Operation{Name: "operation-1", Done: true, Error: &Status{Code: Cancelled, Message: "cancelled"}}},
		{DialectContainer, `{"name":"operation-1","status":"DONE","statusMessage":"node pool failed"}`,
			&Operation{Name: "operation-1", Done: true, Error: &Status{Code: Unknown, Message: "node pool failed"}}},
		{DialectContainer, `{"name":"operation-1","status":"DONE"}`, &Operation{Name: "operation-1", Done: true, HasResponse: true}},
		{DialectStorage, `{"name":"projects/_/buckets/b/operations/o","done":true,"error":{"code":1,"message":"c"}}`,
			&Operation{Name: "projects/_/buckets/b/operations/o", Done: true, Error: &Status{Code: Cancelled, Message: "c"}}},
	}
	for _, tt := range tests {
		got, err := tt.dialect.decodeOperation([]byte(tt.body))
		if err != nil {
			t.Errorf("%s %s: %v", tt.dialect, tt.body, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s %s (-want +got):\n%s", tt.dialect, tt.body, diff)
		}
	}
}

// TestDialectMessagesAreCut: an operation's error message is kept to
// MaxMessageBytes in every dialect (docs/contract.md#cut-text).
func TestDialectMessagesAreCut(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 1<<20)
	for _, tt := range []struct {
		dialect Dialect
		body    string
	}{
		{DialectCloudSQL, `{"name":"o","status":"DONE","error":{"errors":[{"code":"ERROR_RDBMS","message":"` + long + `"}]}}`},
		{DialectCloudSQL, `{"name":"o","status":"DONE","error":{"errors":[{"code":"OPERATION_CANCELLED","message":"` + long + `"}]}}`},
		{DialectContainer, `{"name":"o","status":"DONE","statusMessage":"` + long + `"}`},
		{DialectContainer, `{"name":"o","status":"DONE","error":{"code":2,"message":"` + long + `"}}`},
		{DialectAIP, `{"name":"o","done":true,"error":{"code":2,"message":"` + long + `"}}`},
	} {
		op, err := tt.dialect.decodeOperation([]byte(tt.body))
		if err != nil {
			t.Fatalf("%s: %v", tt.dialect, err)
		}
		if n := len(op.Error.Message); n > MaxMessageBytes+64 || !strings.Contains(op.Error.Message, "bytes in all") {
			t.Errorf("%s: message of %d bytes, want at most %d and a cut mark", tt.dialect, n, MaxMessageBytes)
		}
	}
}

func TestDecodeListPageByDialect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		dialect      Dialect
		parent, body string
		want         []string
	}{
		{DialectCloudSQL, "projects/p/operations", `{"items":[{"name":"a","status":"DONE"},{"name":"b"}],"nextPageToken":"t"}`,
			[]string{"projects/p/operations/a", "projects/p/operations/b"}},
		{DialectContainer, "projects/p/locations/l/operations", `{"operations":[{"name":"operation-1","status":"RUNNING"}]}`,
			[]string{"projects/p/locations/l/operations/operation-1"}},
		{DialectStorage, "b/bkt/operations", `{"operations":[{"name":"projects/_/buckets/bkt/operations/o1","done":false}]}`,
			[]string{"b/bkt/operations/o1"}},
		{DialectAIP, "projects/p/locations/l/operations", `{"operations":[{"name":"projects/p/locations/l/operations/x"}]}`,
			[]string{"projects/p/locations/l/operations/x"}},
	}
	for _, tt := range tests {
		page, err := tt.dialect.decodeListPage([]byte(tt.body), tt.parent)
		if err != nil {
			t.Errorf("%s: %v", tt.dialect, err)
			continue
		}
		var got []string
		for _, op := range page.Operations {
			got = append(got, op.Name)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s names (-want +got):\n%s", tt.dialect, diff)
		}
	}
}

// TestMetadataTypeAndCreationTime: the creation time is read where the
// APIs put it, the type from @type, and metadata of any other shape is no
// metadata, never a malformed operation; nothing else of it is kept.
func TestMetadataTypeAndCreationTime(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)
	const ts = `"2026-11-22T07:00:00Z"`
	for _, tt := range []struct {
		metadata string
		typ      string
		created  time.Time
	}{
		{`{"@type":"type.googleapis.com/google.cloud.x.v1.OperationMetadata","createTime":` + ts + `}`, "google.cloud.x.v1.OperationMetadata", at},
		{`{"@type":"type.googleapis.com/google.cloud.aiplatform.v1.CreateDatasetOperationMetadata","genericMetadata":{"createTime":` + ts + `}}`,
			"google.cloud.aiplatform.v1.CreateDatasetOperationMetadata", at},
		{`{"commonMetadata":{"createTime":` + ts + `}}`, "", at},
		{`{"@type":"type.googleapis.com/google.vault.v1.CountArtifactsMetadata","startTime":` + ts + `}`, "google.vault.v1.CountArtifactsMetadata", at},
		{`{"createTime":"2026-11-22T07:00:00.5+01:00"}`, "", time.Date(2026, 11, 22, 6, 0, 0, 500000000, time.UTC)},
		{`{"createTime":"yesterday","startTime":` + ts + `}`, "", at},
		{`{"createTime":{"seconds":1}}`, "", time.Time{}},
		{`{"@type":17}`, "", time.Time{}},
		{`"a string"`, "", time.Time{}},
		{`[1,2]`, "", time.Time{}},
		{`null`, "", time.Time{}},
	} {
		op, err := DialectAIP.decodeOperation([]byte(`{"name":"operations/a","metadata":` + tt.metadata + `}`))
		if err != nil {
			t.Errorf("metadata %s: %v", tt.metadata, err)
			continue
		}
		if op.Type != tt.typ || !op.Created.Equal(tt.created) {
			t.Errorf("metadata %s: type %q created %v, want %q %v", tt.metadata, op.Type, op.Created, tt.typ, tt.created)
		}
	}
	long := strings.Repeat("x", 10000)
	op, err := DialectContainer.decodeOperation([]byte(`{"name":"o","operationType":"` + long + `"}`))
	if err != nil || len(op.Type) > MaxTypeBytes+64 {
		t.Errorf("a long operation type: %v, %d bytes", err, len(op.Type))
	}
}
