package lro

import (
	"net/http"
	"testing"
	"time"
)

// go test -run '^$' -bench . -benchmem ./lro ./worker

func BenchmarkRoute(b *testing.B) {
	t := NewTable(nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := t.Route("", "enterprises/LC01abcd/devices/3f9a2b7c1d/operations/1700000000123"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseError(b *testing.B) {
	body := []byte(`{"error":{"code":429,"message":"Quota exceeded.","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1.5s"},{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RATE_LIMIT_EXCEEDED","domain":"googleapis.com"}]}}`)
	h := http.Header{}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if e := parseError(429, h, body, now); e.RetryDelay == 0 {
			b.Fatal("no delay")
		}
	}
}

func BenchmarkClassify(b *testing.B) {
	err := &Error{Code: Unavailable}
	b.ReportAllocs()
	for b.Loop() {
		if Classify(err) != Transient {
			b.Fatal("wrong class")
		}
	}
}

func BenchmarkDecodeOperation(b *testing.B) {
	body := []byte(`{"name":"operations/abc","done":true,"metadata":{"@type":"type.googleapis.com/x","a":1},"error":{"code":1,"message":"Operation was cancelled."}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeOperation(body); err != nil {
			b.Fatal(err)
		}
	}
}
