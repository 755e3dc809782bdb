package request

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrUndecodable marks a message that is not one of the three forms, or
// breaks a limit or UTF-8.
var ErrUndecodable = errors.New("undecodable message")

// Decode reads the three message forms (see docs/contract.md#the-message):
// a JSON object, a full resource name "//host/name", or a bare name on one
// line, with the attributes service, reason and batch standing in for
// missing JSON fields. It checks the form and the field limits; the name
// itself is checked by ValidateName when it is routed (or by Validate). On
// error the returned Request holds only the fields that pass their own
// checks, for the log line and the result event: a value that broke a limit
// never reaches a log line, an event or an event's attributes.
func Decode(data []byte, attrs map[string]string) (Request, error) {
	r, err := decode(data, attrs)
	if err != nil {
		// Undecodable data still has its attributes: the batch of an
		// invalid message reaches its event, for whoever waits on the batch.
		return r.withAttributes(attrs).checked(), err
	}
	return r, nil
}

// withAttributes fills the fields that the data left empty from the
// attributes service, reason and batch: a JSON field wins.
func (r Request) withAttributes(attrs map[string]string) Request {
	if r.Service == "" {
		r.Service = attrs["service"]
	}
	if r.Reason == "" {
		r.Reason = attrs["reason"]
	}
	if r.Batch == "" {
		r.Batch = attrs["batch"]
	}
	return r
}

// decode reads data and attrs into a Request and checks it.
func decode(data []byte, attrs map[string]string) (Request, error) {
	var r Request
	if len(data) > MaxDataBytes {
		return r, fmt.Errorf("%w: data is %d bytes, the limit is %d", ErrUndecodable, len(data), MaxDataBytes)
	}
	if !utf8.Valid(data) {
		return r, fmt.Errorf("%w: data is not valid UTF-8", ErrUndecodable)
	}
	text := bytes.TrimSpace(data)
	switch {
	case len(text) == 0:
		return r, fmt.Errorf("%w: empty message", ErrUndecodable)
	case text[0] == '{':
		var err error
		if r, err = decodeJSON(text); err != nil {
			return r, err
		}
	case text[0] == '[' || text[0] == '"':
		return r, fmt.Errorf("%w: a JSON message must be an object with a \"name\"", ErrUndecodable)
	default:
		if bytes.ContainsAny(text, "\r\n") {
			return r, fmt.Errorf("%w: a message names one operation on one line", ErrUndecodable)
		}
		r.Name = string(text)
	}
	field := r.Service
	r = r.withAttributes(attrs)
	if host, name, ok := splitFullName(r.Name); ok {
		r.Name = name
		if err := agree(attrs["service"], field, host); err != nil {
			return r, err
		}
		r.Service = host
	} else if strings.HasPrefix(r.Name, "//") {
		return r, fmt.Errorf("%w: %q is not a full resource name //host/name", ErrUndecodable, r.Name)
	} else if err := agree(attrs["service"], field, ""); err != nil {
		return r, err
	}
	if r.Name == "" {
		return r, fmt.Errorf("%w: no operation name", ErrUndecodable)
	}
	return r, r.checkFields()
}

// agree checks that the three places a message may name its service, the
// service attribute, the JSON service field and the host of a full
// resource name, name the same one where they name one: a subscription
// filtered on the attribute must never receive a cancel for another service
// (see docs/contract.md#validation). The error names the two that
// disagree, their values escaped and cut.
func agree(attribute, field, host string) error {
	named := []struct{ what, value string }{
		{"the service attribute", attribute},
		{"the JSON service field", field},
		{"the host of the full resource name", host},
	}
	for i, a := range named {
		for _, b := range named[i+1:] {
			if a.value != "" && b.value != "" && a.value != b.value {
				return fmt.Errorf("%w: %s %q and %s %q disagree; name the service once, or the same everywhere",
					ErrUndecodable, a.what, clip(a.value), b.what, clip(b.value))
			}
		}
	}
	return nil
}

// maxQuoted bounds a value quoted in an error: what a message carries
// reaches the log line's detail and the result event.
const maxQuoted = 100

// clip cuts s after maxQuoted bytes, on a character boundary, marking the cut.
func clip(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	i := maxQuoted
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// checkFields checks the fields that come from attributes as much as from
// the data: UTF-8, and the limits of reason and batch.
func (r Request) checkFields() error {
	switch {
	case !utf8.ValidString(r.Service) || !utf8.ValidString(r.Reason) || !utf8.ValidString(r.Batch):
		return fmt.Errorf("%w: an attribute is not valid UTF-8", ErrUndecodable)
	case !withinLimit(r.Reason, MaxReasonChars):
		return fmt.Errorf("%w: reason is %d characters, the limit is %d", ErrUndecodable, utf8.RuneCountInString(r.Reason), MaxReasonChars)
	case !withinLimit(r.Batch, MaxBatchChars):
		return fmt.Errorf("%w: batch is %d characters, the limit is %d", ErrUndecodable, utf8.RuneCountInString(r.Batch), MaxBatchChars)
	}
	return nil
}

// checked returns the fields of r that pass their own checks; the others
// are empty. The name stays (it is what the log line of an invalid message
// is about) when it is UTF-8; finish cuts it to a bounded length.
func (r Request) checked() Request {
	keep := func(s string, limit int) string {
		if utf8.ValidString(s) && withinLimit(s, limit) {
			return s
		}
		return ""
	}
	return Request{
		Name:    keep(r.Name, MaxDataBytes),
		Service: keep(r.Service, MaxDataBytes),
		Reason:  keep(r.Reason, MaxReasonChars),
		Batch:   keep(r.Batch, MaxBatchChars),
	}
}

// withinLimit reports whether s has at most limit characters.
func withinLimit(s string, limit int) bool {
	return utf8.RuneCountInString(s) <= limit
}

// decodeJSON decodes the JSON form: an object with a string "name" and
// optional string "service", "reason" and "batch"; other fields are ignored.
// A key that appears twice, or a key that differs from one of the four only
// in case, is refused: Go's JSON decoding matches keys case-insensitively
// (with Unicode folding) and lets the last one win, so
// {"name":"a","NAME":"b"} would name b.
func decodeJSON(text []byte) (Request, error) {
	var w struct {
		Name    *string `json:"name"`
		Service *string `json:"service"`
		Reason  *string `json:"reason"`
		Batch   *string `json:"batch"`
	}
	// Unmarshal also refuses anything after the object. It checks the
	// syntax before it decodes, so after a type error text is valid JSON.
	err := json.Unmarshal(text, &w)
	var te *json.UnmarshalTypeError
	if err != nil && !errors.As(err, &te) {
		return Request{}, fmt.Errorf("%w: malformed JSON: %v", ErrUndecodable, err)
	}
	if err := checkKeys(text); err != nil {
		return Request{}, err
	}
	if err != nil {
		return Request{}, fmt.Errorf("%w: JSON field %q must be a string", ErrUndecodable, te.Field)
	}
	if w.Name == nil {
		return Request{}, fmt.Errorf("%w: JSON has no \"name\"", ErrUndecodable)
	}
	var r Request
	for _, f := range [...]struct{ dst, src *string }{{&r.Name, w.Name}, {&r.Service, w.Service}, {&r.Reason, w.Reason}, {&r.Batch, w.Batch}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	return r, nil
}

// jsonFields are the JSON form's fields, spelled as the form spells them.
var jsonFields = [...]string{"name", "service", "reason", "batch"}

// checkKeys refuses a key of the object text that appears twice, or that
// differs from one of jsonFields only in case.
func checkKeys(text []byte) error {
	seen := map[string]bool{}
	return eachObjectKey(text, func(quoted []byte) error {
		key := string(quoted[1 : len(quoted)-1])
		if bytes.IndexByte(quoted, '\\') >= 0 {
			json.Unmarshal(quoted, &key) // a valid JSON string: text is valid JSON
		}
		if seen[key] {
			return fmt.Errorf("%w: JSON key %q appears twice", ErrUndecodable, key)
		}
		seen[key] = true
		for _, f := range jsonFields {
			if key != f && strings.EqualFold(key, f) {
				return fmt.Errorf("%w: JSON key %q differs from %q only in case; keys are spelled in lower case", ErrUndecodable, key, f)
			}
		}
		return nil
	})
}

// eachObjectKey calls f with each key of the JSON object text, quoted and
// escaped as written, in order. text must be valid JSON (json.Unmarshal has
// checked it): the scan only tells keys from values and nested values.
func eachObjectKey(text []byte, f func(quoted []byte) error) error {
	depth := 0
	key := false // the next string at depth 1 is a key
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '{', '[':
			depth++
			key = depth == 1 // the object itself opens
		case '}', ']':
			depth--
		case ',':
			key = depth == 1
		case '"':
			end := i + 1
			for text[end] != '"' {
				if text[end] == '\\' {
					end++ // the escaped byte
				}
				end++
			}
			if key {
				if err := f(text[i : end+1]); err != nil {
					return err
				}
				key = false
			}
			i = end
		}
	}
	return nil
}

// splitFullName splits "//host/name" into host and name; a name that
// begins with a slash ("//host//x") is not one.
func splitFullName(s string) (host, name string, ok bool) {
	rest, ok := strings.CutPrefix(s, "//")
	if !ok {
		return "", "", false
	}
	host, name, ok = strings.Cut(rest, "/")
	if !ok || host == "" || name == "" || strings.HasPrefix(name, "/") {
		return "", "", false
	}
	return host, name, true
}
