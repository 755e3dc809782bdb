package request

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		data  string
		attrs map[string]string
		want  Request
	}{
		{"json", `{"name":"enterprises/e1/devices/d1/operations/o1","service":"androidmanagement.googleapis.com","reason":"incident 4711","batch":"2026-11-22-wipe-storm"}`, nil,
			Request{Name: "enterprises/e1/devices/d1/operations/o1", Service: "androidmanagement.googleapis.com", Reason: "incident 4711", Batch: "2026-11-22-wipe-storm"}},
		{"json ignores unknown fields", `{"name":"operations/a","extra":{"deep":[1,2,{"x":null}]},"n":5}`, nil, Request{Name: "operations/a"}},
		{"json wins over attributes", `{"name":"operations/a","reason":"json"}`, map[string]string{"reason": "attr", "batch": "b"},
			Request{Name: "operations/a", Reason: "json", Batch: "b"}},
		{"json with a full name", `{"name":"//vault.googleapis.com/operations/a"}`, nil, Request{Name: "operations/a", Service: "vault.googleapis.com"}},
		{"full resource name", "//androidmanagement.googleapis.com/enterprises/e1/devices/d1/operations/o1", map[string]string{"reason": "r"},
			Request{Name: "enterprises/e1/devices/d1/operations/o1", Service: "androidmanagement.googleapis.com", Reason: "r"}},
		{"bare name with newline", "operations/abc123\n", nil, Request{Name: "operations/abc123"}},
		{"bare name with attributes", "  operations/abc123  ", map[string]string{"service": "vault.googleapis.com", "batch": "b1"},
			Request{Name: "operations/abc123", Service: "vault.googleapis.com", Batch: "b1"}},
		{"reason of 256 characters", `{"name":"operations/a","reason":"` + strings.Repeat("é", 256) + `"}`, nil,
			Request{Name: "operations/a", Reason: strings.Repeat("é", 256)}},
	}
	for _, tt := range tests {
		got, err := Decode([]byte(tt.data), tt.attrs)
		if err != nil {
			t.Errorf("%s: Decode = %v", tt.name, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		data  string
		attrs map[string]string
	}{
		"empty":                          {data: ""},
		"blank":                          {data: " \n\t"},
		"4 KiB + 1":                      {data: "operations/" + strings.Repeat("a", MaxDataBytes+1-len("operations/"))},
		"invalid UTF-8":                  {data: "operations/\xff\xfe"},
		"two lines":                      {data: "operations/a\noperations/b"},
		"json without name":              {data: `{"service":"vault.googleapis.com"}`},
		"json null name":                 {data: `{"name":null}`},
		"json empty name":                {data: `{"name":""}`},
		"json name of wrong type":        {data: `{"name":42}`},
		"case variant of the wrong type": {data: `{"name":"operations/a","NAME":5}`},
		"json name object":               {data: `{"name":{"a":1}}`},
		"json service wrong type":        {data: `{"name":"operations/a","service":["x"]}`},
		"json truncated":                 {data: `{"name":"operations/a"`},
		"json trailing data":             {data: `{"name":"operations/a"} {"name":"operations/b"}`},
		"json array":                     {data: `[{"name":"operations/a"}]`},
		"deeply nested":                  {data: `{"name":"operations/a","x":` + strings.Repeat("[", 1500) + strings.Repeat("]", 1500) + `,`},
		"reason too long":                {data: `{"name":"operations/a","reason":"` + strings.Repeat("r", 257) + `"}`},
		"batch too long":                 {data: "operations/a", attrs: map[string]string{"batch": strings.Repeat("b", 129)}},
		"attribute not UTF-8":            {data: "operations/a", attrs: map[string]string{"reason": "\xff"}},
		"service contradicts host":       {data: "//vault.googleapis.com/operations/a", attrs: map[string]string{"service": "androidmanagement.googleapis.com"}},
		"full name without name":         {data: "//vault.googleapis.com/"},
		"full name without host":         {data: "///operations/a"},
		// Go's JSON decoding matches keys case-insensitively and lets the last
		// one win: {"name":"operations/a","NAME":"operations/b"} would cancel b.
		"duplicate key":           {data: `{"name":"operations/a","name":"operations/b"}`},
		"case-variant key":        {data: `{"name":"operations/a","NAME":"operations/b"}`},
		"case variant alone":      {data: `{"Name":"operations/a"}`},
		"case-variant service":    {data: `{"name":"operations/a","Service":"x.googleapis.com"}`},
		"folded variant (long s)": {data: `{"name":"operations/a","ſervice":"x.googleapis.com"}`},
		"duplicate unknown key":   {data: `{"name":"operations/a","x":1,"x":2}`},
		"missing comma":           {data: `{"name":"operations/a" "x":1}`},
		"missing colon":           {data: `{"name" "operations/a"}`},
	}
	for name, tt := range tests {
		if got, err := Decode([]byte(tt.data), tt.attrs); !errors.Is(err, ErrUndecodable) {
			t.Errorf("%s: Decode = %+v, %v; want a decode error", name, got, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"name":"operations/a","service":"vault.googleapis.com","reason":"r","batch":"b"}`,
		"//androidmanagement.googleapis.com/enterprises/e/devices/d/operations/o",
		"operations/abc\n",
		`{"name":{"x":1}}`,
		"//127.0.0.1:8080/operations/a",
		"\xff",
	} {
		f.Add([]byte(s), "", "")
	}
	f.Add([]byte(`{"a\"b":{"name":[1,"x,\"y"]},"n\u0061me":"operations/a", "c" : [{"d":1},2]}`), "", "")
	f.Fuzz(func(t *testing.T, data []byte, service, reason string) {
		checkObjectKeys(t, data)
		r, err := Decode(data, map[string]string{"service": service, "reason": reason})
		if err != nil {
			return
		}
		if r.Name == "" || len(data) > MaxDataBytes {
			t.Fatalf("accepted %q as %+v", data, r)
		}
		if strings.HasPrefix(r.Name, "//") {
			t.Fatalf("a full resource name was not split: %+v", r)
		}
		if strings.ContainsAny(r.Name, "\r\n") && !strings.HasPrefix(strings.TrimSpace(string(data)), "{") {
			t.Fatalf("multi-line name accepted: %q", r.Name)
		}
	})
}

// TestDecodeNamesTheSmuggledKey: the invalid message says which key is wrong.
func TestDecodeNamesTheSmuggledKey(t *testing.T) {
	t.Parallel()
	for data, want := range map[string]string{
		`{"name":"operations/a","NAME":"operations/b"}`: `JSON key "NAME" differs from "name" only in case`,
		`{"name":"operations/a","name":"operations/b"}`: `JSON key "name" appears twice`,
		`{"name":"operations/a","NAME":5}`:              `JSON key "NAME" differs from "name" only in case`,
		`{"name":"operations/a","n\u0061me":"x"}`:       `JSON key "name" appears twice`,
	} {
		_, err := Decode([]byte(data), nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Decode(%s) = %v, want an error with %q", data, err, want)
		}
	}
}

// TestServiceNamedOnceOrTheSameEverywhere: the service attribute, the
// JSON service field and the host of a full resource name may each name
// the service, and must agree where they do (docs/contract.md#validation);
// the error names the two that disagree, their values escaped and cut.
func TestServiceNamedOnceOrTheSameEverywhere(t *testing.T) {
	t.Parallel()
	const vault, amapi = "vault.googleapis.com", "androidmanagement.googleapis.com"
	attr := func(s string) map[string]string { return map[string]string{"service": s} }
	agree := []struct {
		data  string
		attrs map[string]string
	}{
		{`{"name":"operations/a","service":"` + vault + `"}`, attr(vault)},
		{`{"name":"//` + vault + `/operations/a","service":"` + vault + `"}`, attr(vault)},
		{"//" + vault + "/operations/a", attr(vault)},
		{`{"name":"operations/a","service":"` + vault + `"}`, attr("")},
		{"operations/a", attr(vault)},
	}
	for _, tt := range agree {
		if got, err := Decode([]byte(tt.data), tt.attrs); err != nil || got.Service != vault || got.Name != "operations/a" {
			t.Errorf("Decode(%s, %v) = %+v, %v; want operations/a of %s", tt.data, tt.attrs, got, err, vault)
		}
	}
	// An escape sequence and 2000 bytes: escaped, and cut after 100 bytes.
	hostile := "\x1b[2J" + strings.Repeat("x", 2000)
	disagree := []struct {
		data  string
		attrs map[string]string
		want  string
	}{
		// The attribute a subscription filters on, and a field that
		// would send the cancel elsewhere.
		{`{"name":"operations/a","service":"` + vault + `"}`, attr(amapi),
			`the service attribute "androidmanagement.googleapis.com" and the JSON service field "vault.googleapis.com" disagree`},
		{"//" + vault + "/operations/a", attr(amapi),
			`the service attribute "androidmanagement.googleapis.com" and the host of the full resource name "vault.googleapis.com" disagree`},
		{`{"name":"//` + vault + `/operations/a","service":"` + amapi + `"}`, nil,
			`the JSON service field "androidmanagement.googleapis.com" and the host of the full resource name "vault.googleapis.com" disagree`},
		{`{"name":"//` + vault + `/operations/a","service":"` + vault + `"}`, attr(amapi),
			`the service attribute "androidmanagement.googleapis.com" and the JSON service field "vault.googleapis.com" disagree`},
		{`{"name":"operations/a","service":"` + vault + `"}`, attr(hostile),
			`the service attribute "\x1b[2J` + strings.Repeat("x", 100-len("\x1b[2J")) + `…" and the JSON service field`},
	}
	for _, tt := range disagree {
		_, err := Decode([]byte(tt.data), tt.attrs)
		if !errors.Is(err, ErrUndecodable) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Decode(%.80s, %.80v) = %v; want an error with %q", tt.data, tt.attrs, err, tt.want)
		}
	}
}

// checkObjectKeys: for a valid JSON object, eachObjectKey finds the keys a
// JSON decoder reads, in order.
func checkObjectKeys(t *testing.T, data []byte) {
	text := bytes.TrimSpace(data)
	if !json.Valid(text) || len(text) == 0 || text[0] != '{' {
		return
	}
	var want []string
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.Token()
	for dec.More() {
		tok, _ := dec.Token()
		want = append(want, tok.(string))
		var skip json.RawMessage
		dec.Decode(&skip)
	}
	var got []string
	eachObjectKey(text, func(quoted []byte) error {
		var k string
		if err := json.Unmarshal(quoted, &k); err != nil {
			t.Fatalf("key %s is not a JSON string: %v", quoted, err)
		}
		got = append(got, k)
		return nil
	})
	if !slices.Equal(want, got) {
		t.Fatalf("keys of %s: got %q, want %q", text, got, want)
	}
}

// TestUndecodableKeepsItsAttributes: a message whose data cannot be read
// still carries its batch (and reason) to its log line and its event, so
// that whoever waits on the batch sees it end invalid.
func TestUndecodableKeepsItsAttributes(t *testing.T) {
	t.Parallel()
	attrs := map[string]string{"batch": "b1", "reason": "r"}
	for _, data := range []string{`{"name": 42}`, "", "[1]", "operations/a\noperations/b", `{"name":"x","batch":"json"}x`} {
		got, err := Decode([]byte(data), attrs)
		if err == nil {
			t.Errorf("Decode(%q) = nil error", data)
		}
		if got.Batch != "b1" || got.Reason != "r" {
			t.Errorf("Decode(%q) = %+v, want the batch and reason of the attributes", data, got)
		}
	}
	if got, _ := Decode([]byte(`{"name": 42}`), map[string]string{"batch": strings.Repeat("b", 129)}); got.Batch != "" {
		t.Errorf("a batch over its limit reached the request: %q", got.Batch)
	}
}
