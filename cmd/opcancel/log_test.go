package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestLogLinesCarryTheTimeCloudLoggingReads: every line has "time", an RFC
// 3339 string with nanoseconds (Cloud Logging's form of the entry's time),
// and no "timestamp" (docs/contract.md#logs).
func TestLogLinesCarryTheTimeCloudLoggingReads(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log, err := newLogger("info", &buf)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	log.Info("worker starting")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	s, _ := line["time"].(string)
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || at.Before(before.Truncate(time.Second)) || !strings.Contains(s, ".") {
		t.Errorf("time = %q (%v), want the RFC 3339 time of the line with its fraction", line["time"], err)
	}
	if _, ok := line["timestamp"]; ok {
		t.Errorf("the line still has timestamp: %s", buf.Bytes())
	}
	if line["severity"] != "INFO" || line["message"] != "worker starting" {
		t.Errorf("severity, message = %v, %v", line["severity"], line["message"])
	}
}
