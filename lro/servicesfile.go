package lro

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FileOptions are the settings that decide what a services file may contain.
type FileOptions struct {
	// SendsTokens says that requests carry bearer tokens (auth adc): a
	// plain-http endpoint is refused with a *PlainHTTPError, and an endpoint
	// outside Google's domain unless its entry sets allowTokenOutsideGoogle
	// and scopes.
	SendsTokens bool
}

// LoadTable reads the services file at path and returns the resulting
// table (see docs/contract.md#the-services-file). An empty path yields the
// built-ins. Errors name the file, the entry and the field.
func LoadTable(path string, opts FileOptions) (*Table, error) {
	if path == "" {
		return NewTable(nil), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("services file: %w", err)
	}
	return ParseTable(path, data, opts)
}

type fileDoc struct {
	// Builtins false leaves the built-in services out: only the entries
	// are enabled. Absent means true.
	Builtins *bool       `yaml:"builtins"`
	Services []fileEntry `yaml:"services"`
}

// ParseTable parses services-file content; source names it in errors.
// Unknown keys, malformed durations, invalid templates, bad endpoints,
// duplicate hosts and a file that enables nothing are errors.
func ParseTable(source string, data []byte, opts FileOptions) (*Table, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var doc fileDoc
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("services file %s: empty; want a \"services:\" list", source)
		}
		return nil, fmt.Errorf("services file %s: %s", source, yamlMessage(err))
	}
	var extra fileDoc
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("services file %s: more than one YAML document", source)
	}
	seen := map[string]int{}
	entries := make([]*Service, 0, len(doc.Services))
	for i, fe := range doc.Services {
		where := fmt.Sprintf("services file %s: services[%d]", source, i)
		if fe.Host != "" {
			where += fmt.Sprintf(" (host %q)", fe.Host)
		}
		s, err := fe.service(opts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if j, dup := seen[s.Host]; dup {
			return nil, fmt.Errorf("%s: host: %q is already defined by services[%d]", where, s.Host, j)
		}
		seen[s.Host] = i
		entries = append(entries, s)
	}
	builtins := doc.Builtins == nil || *doc.Builtins
	if !builtins && len(entries) == 0 {
		return nil, fmt.Errorf("services file %s: builtins: false and no services: nothing would be enabled; list the services to enable", source)
	}
	return newTable(builtins, entries), nil
}

// fieldNotFound and cannotUnmarshal match the YAML decoder's messages, which
// name Go types; users see the key and the value instead.
var (
	fieldNotFound   = regexp.MustCompile(`field (\S+) not found in type \S+`)
	cannotUnmarshal = regexp.MustCompile("cannot unmarshal !!\\w+ `(.*)` into (\\S+)")
)

// yamlMessage turns a decoder error into one line naming keys and values.
func yamlMessage(err error) string {
	var te *yaml.TypeError
	msgs := []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for i, m := range msgs {
		m = fieldNotFound.ReplaceAllString(m, "unknown key \"$1\"")
		m = cannotUnmarshal.ReplaceAllStringFunc(m, func(s string) string {
			sub := cannotUnmarshal.FindStringSubmatch(s)
			want := map[string]string{"float64": "a number", "string": "a string", "[]string": "a list of strings", "bool": "true or false"}[sub[2]]
			if want == "" {
				want = "of the right type"
			}
			return fmt.Sprintf("%q is not %s", sub[1], want)
		})
		msgs[i] = m
	}
	return strings.Join(msgs, "; ")
}

// PlainHTTPError is an endpoint refused because it is plain http while
// requests carry bearer tokens (FileOptions.SendsTokens).
type PlainHTTPError struct {
	Endpoint string
}

func (e *PlainHTTPError) Error() string {
	return e.Explain("auth "+AuthADC, "auth "+AuthNone)
}

// Explain describes the error naming the auth settings as the caller's
// users set them: adc for the one that sends tokens, none for the other.
func (e *PlainHTTPError) Explain(adc, none string) string {
	return fmt.Sprintf("%q is plain http, but %s sends a bearer token, which is only ever sent over https (use %s for emulators and fakes)", e.Endpoint, adc, none)
}
