package lrotest_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"opcancel/lro"
	"opcancel/lro/lrotest"
)

// The same path means different APIs at different hosts: the fake answers
// each in its dialect.
func TestImpersonatesByHost(t *testing.T) {
	t.Parallel()
	var services []*lro.Service
	for _, h := range []string{"sqladmin.googleapis.com", "webrisk.googleapis.com"} {
		a, _ := lro.KnownAPI(h, "")
		services = append(services, lro.ServiceOf(a))
	}
	fake := lrotest.New(lrotest.Options{Services: services})
	fake.Set("projects/p/operations/o", lrotest.Script{AlreadyDone: true})
	client := &http.Client{Transport: fake.Transport()}
	got := map[string]string{}
	for _, host := range []string{"sqladmin.googleapis.com", "webrisk.googleapis.com", "127.0.0.1:8080"} {
		resp, err := client.Get("https://" + host + "/v1/projects/p/operations/o")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got[host] = string(body)
	}
	sql := `{"error":{"errors":[{"code":"OPERATION_CANCELLED","kind":"sql#operationError","message":"Operation was cancelled."}],"kind":"sql#operationErrors"},` +
		`"exportContext":{"@type":"type.googleapis.com/google.protobuf.Empty"},"kind":"sql#operation","name":"o","status":"DONE"}`
	want := map[string]string{
		"sqladmin.googleapis.com": sql,
		"webrisk.googleapis.com": `{"done":true,"error":{"code":1,"message":"Operation was cancelled."},` +
			`"metadata":{"@type":"type.googleapis.com/google.protobuf.Empty"},"name":"projects/p/operations/o"}`,
		// A host the fake does not impersonate: the first service that routes the path.
		"127.0.0.1:8080": sql,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers by host (-want +got):\n%s", diff)
	}
	var routed []string
	for _, r := range fake.Requests() {
		routed = append(routed, r.Kind+" "+r.Service)
	}
	if diff := cmp.Diff([]string{"get sqladmin.googleapis.com", "get webrisk.googleapis.com", "get sqladmin.googleapis.com"}, routed); diff != "" {
		t.Errorf("routed (-want +got):\n%s", diff)
	}
}
