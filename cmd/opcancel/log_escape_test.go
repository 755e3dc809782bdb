package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"go.uber.org/zap"
)

// TestLogLinesEscapeWhatATerminalActsOn: an API's message in a log field
// reaches the JSON line with nothing a terminal would act on (zap escapes
// only C0 controls), and decodes to the message itself.
func TestLogLinesEscapeWhatATerminalActsOn(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log, err := newLogger("info", &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("operation denied", zap.String("detail", hostile), zap.String("name", "operations/\u2028x\U000e0041"))
	checkNothingRaw(t, "the log line", buf.String())
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	if line["detail"] != hostile || line["name"] != "operations/\u2028x\U000e0041" {
		t.Errorf("decoded %q and %q, want the values themselves", line["detail"], line["name"])
	}
}
