package lrotest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"opcancel/lro"
	"opcancel/lro/lrotest"
)

// A fake Vault operation that refuses once with 503 and RetryInfo, then
// accepts the cancel and is done, cancelled, on the second poll.
func Example() {
	fake := lrotest.New(lrotest.Options{})
	fake.Set("operations/export-1", lrotest.Script{
		Cancel:         []lrotest.Answer{lrotest.Unavailable(2 * time.Second), {}},
		DoneAfterPolls: 1,
		Final:          lrotest.Cancelled,
	})
	srv := httptest.NewServer(fake) // or fake.Transport() inside a synctest bubble
	defer srv.Close()

	for _, step := range []struct{ method, path string }{
		{"POST", "/v1/operations/export-1:cancel"},
		{"POST", "/v1/operations/export-1:cancel"},
		{"GET", "/v1/operations/export-1"},
		{"GET", "/v1/operations/export-1"},
	} {
		req, _ := http.NewRequest(step.method, srv.URL+step.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, string(body))
	}
	fmt.Printf("%+v\n", fake.Op("operations/export-1"))
	_ = lro.Cancelled
	// Output:
	// 503 {"error":{"code":503,"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"2s"}],"message":"The service is currently unavailable.","status":"UNAVAILABLE"}}
	// 200 {}
	// 200 {"done":false,"metadata":{"@type":"type.googleapis.com/google.protobuf.Empty"},"name":"operations/export-1"}
	// 200 {"done":true,"error":{"code":1,"message":"Operation was cancelled."},"metadata":{"@type":"type.googleapis.com/google.protobuf.Empty"},"name":"operations/export-1"}
	// {Cancels:2 Gets:2 CancelAccepted:true Done:true}
}
