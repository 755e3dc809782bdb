package main

import (
	"encoding/json"
	"io"
)

// writeJSON writes v on w as indented JSON: the --output json and --json
// forms of the commands' results (submit, services).
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
