package lro

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// FileOptions are the settings that decide what a services file may contain.
type FileOptions struct {
	// RequireHTTPS rejects plain-http endpoints with a *PlainHTTPError; set it
	// whenever requests carry tokens (auth adc).
	RequireHTTPS bool
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

// fileEntry is one entry of the services file as written.
type fileEntry struct {
	Host          string   `yaml:"host"`
	Endpoint      string   `yaml:"endpoint"`
	Version       string   `yaml:"version"`
	Patterns      []string `yaml:"patterns"`
	Scopes        []string `yaml:"scopes"`
	Subject       string   `yaml:"subject"`
	Rate          *float64 `yaml:"rate"`
	VerifyTimeout string   `yaml:"verifyTimeout"`
}

type fileDoc struct {
	Services []fileEntry `yaml:"services"`
}

// ParseTable parses services-file content; source names it in errors.
// Unknown keys, malformed durations, invalid templates, bad endpoints and
// duplicate hosts are errors.
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
	return NewTable(entries), nil
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
			want := map[string]string{"float64": "a number", "string": "a string", "[]string": "a list of strings"}[sub[2]]
			if want == "" {
				want = "of the right type"
			}
			return fmt.Sprintf("%q is not %s", sub[1], want)
		})
		msgs[i] = m
	}
	return strings.Join(msgs, "; ")
}

func (fe fileEntry) service(opts FileOptions) (*Service, error) {
	if err := validateHost(fe.Host); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	s := &Service{Host: fe.Host, Version: fe.Version, Subject: fe.Subject, Scopes: fe.Scopes}
	endpoint := fe.Endpoint
	if endpoint == "" {
		endpoint = "https://" + fe.Host
	}
	u, err := parseEndpoint(endpoint, opts.RequireHTTPS)
	if err != nil {
		return nil, fmt.Errorf("endpoint: %w", err)
	}
	s.Endpoint = u
	if s.Version == "" {
		s.Version = "v1"
	}
	if err := ValidateName(s.Version); err != nil || strings.Contains(s.Version, "/") {
		return nil, fmt.Errorf("version: %q is not a single path segment", fe.Version)
	}
	if len(fe.Patterns) == 0 {
		return nil, errors.New("patterns: at least one pattern is required")
	}
	for j, p := range fe.Patterns {
		t, err := parseTemplate(p)
		if err != nil {
			return nil, fmt.Errorf("patterns[%d]: %w", j, err)
		}
		s.Patterns = append(s.Patterns, t)
	}
	if len(s.Scopes) == 0 {
		s.Scopes = []string{cloudPlatformScope} // an entry that names no scope
	}
	for j, sc := range s.Scopes {
		if u, err := url.Parse(sc); err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("scopes[%d]: %q is not an https scope URL", j, sc)
		}
	}
	if fe.Rate != nil {
		if *fe.Rate < 0 || *fe.Rate != *fe.Rate {
			return nil, fmt.Errorf("rate: %v must be 0 (unlimited) or more", *fe.Rate)
		}
		s.Rate = *fe.Rate
	}
	if fe.VerifyTimeout != "" {
		d, err := time.ParseDuration(fe.VerifyTimeout)
		if err != nil {
			return nil, fmt.Errorf("verifyTimeout: %q is not a duration like \"90s\" or \"5m\"", fe.VerifyTimeout)
		}
		if d <= 0 {
			return nil, fmt.Errorf("verifyTimeout: %q must be positive", fe.VerifyTimeout)
		}
		s.VerifyTimeout = d
	}
	return s, nil
}

// validateHost accepts a DNS name: letters, digits, '-' and '.', no port, no
// user info, no trailing dot.
func validateHost(h string) error {
	if h == "" {
		return errors.New("required")
	}
	if len(h) > 253 {
		return fmt.Errorf("%q is longer than 253 bytes", truncate(h, 40))
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("%q is not a DNS name", h)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return fmt.Errorf("%q is not a DNS name (no ports, paths or user info)", h)
			}
		}
	}
	return nil
}

// parseEndpoint accepts an absolute http(s) URL with no path beyond "/", no
// query, fragment or user info.
func parseEndpoint(s string, requireHTTPS bool) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL", s)
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, fmt.Errorf("%q must be an https:// URL", s)
	case u.Host == "":
		return nil, fmt.Errorf("%q has no host", s)
	case u.User != nil:
		return nil, fmt.Errorf("%q must not contain user info", s)
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return nil, fmt.Errorf("%q must not have a query or fragment", s)
	case u.Path != "" && u.Path != "/":
		return nil, fmt.Errorf("%q must not have a path; the version and name are appended", s)
	case u.Scheme == "http" && requireHTTPS:
		return nil, &PlainHTTPError{Endpoint: s}
	}
	u.Path = ""
	return u, nil
}

// PlainHTTPError is an endpoint refused because it is plain http while
// requests carry bearer tokens (FileOptions.RequireHTTPS).
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
