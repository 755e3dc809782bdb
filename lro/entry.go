package lro

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"opcancel/request"
	"strings"
	"time"
)

// fileEntry is one entry of the services file as written.
type fileEntry struct {
	Host                      string   `yaml:"host"`
	Endpoint                  string   `yaml:"endpoint"`
	Version                   string   `yaml:"version"`
	Patterns                  []string `yaml:"patterns"`
	Scopes                    []string `yaml:"scopes"`
	Subject                   string   `yaml:"subject"`
	Rate                      *float64 `yaml:"rate"`
	MaxConcurrency            *float64 `yaml:"maxConcurrency"`
	VerifyTimeout             string   `yaml:"verifyTimeout"`
	AllowNonOperationPatterns bool     `yaml:"allowNonOperationPatterns"`
	Allow                     []string `yaml:"allow"`
	AllowTokenOutsideGoogle   bool     `yaml:"allowTokenOutsideGoogle"`
}

// minRate is the lowest rate a service may have, other than 0 (unlimited):
// a slower pacing interval is longer than any deadline the worker keeps.
const minRate = 0.001

// service makes the entry's service: the catalog's API for a known host,
// with every key the entry sets overriding it; for another host, a service
// of the AIP dialect made from the entry alone (see
// docs/contract.md#the-services-file).
func (fe fileEntry) service(opts FileOptions) (*Service, error) {
	if err := validateHost(fe.Host); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	s, err := fe.base()
	if err != nil {
		return nil, err
	}
	if fe.Endpoint != "" {
		// One endpoint for every request, regional ones included: an
		// emulator, a fake or a private endpoint.
		s.Regional = nil
		if s.Endpoint, err = parseEndpoint(fe.Endpoint, opts.SendsTokens); err != nil {
			return nil, fmt.Errorf("endpoint: %w", err)
		}
	}
	if err := fe.applyPatterns(s); err != nil {
		return nil, err
	}
	if fe.Allow != nil {
		if s.Allow, err = parseAllow(fe.Allow, s); err != nil {
			return nil, err
		}
	}
	if len(fe.Scopes) > 0 {
		for j, sc := range fe.Scopes {
			if u, err := url.Parse(sc); err != nil || u.Scheme != "https" || u.Host == "" {
				return nil, fmt.Errorf("scopes[%d]: %q is not an https scope URL", j, sc)
			}
		}
		s.Scopes = fe.Scopes
	}
	s.TokenOutsideGoogle = fe.AllowTokenOutsideGoogle
	if opts.SendsTokens {
		if err := fe.checkTokenDestination(s); err != nil {
			return nil, err
		}
	}
	if fe.Subject != "" {
		s.Subject = fe.Subject
	}
	if err := fe.applyLimits(s); err != nil {
		return nil, err
	}
	return s, nil
}

// applyLimits sets the entry's pacing and time limits on the service: rate,
// maxConcurrency and verifyTimeout.
func (fe fileEntry) applyLimits(s *Service) error {
	if fe.Rate != nil {
		if r := *fe.Rate; r != r || r < 0 || (r > 0 && r < minRate) {
			return fmt.Errorf("rate: %v must be 0 (unlimited) or at least %v requests per second", r, minRate)
		}
		s.Rate = *fe.Rate
	}
	if fe.MaxConcurrency != nil {
		// A number, so that 2.5 is refused rather than read as 2.
		n := *fe.MaxConcurrency
		if n != math.Trunc(n) || n < 1 || n > math.MaxInt32 {
			return fmt.Errorf("maxConcurrency: %v must be a whole number of at least 1 (this service's requests in flight at once)", n)
		}
		s.MaxConcurrency = int(n)
	}
	if fe.VerifyTimeout != "" {
		d, err := time.ParseDuration(fe.VerifyTimeout)
		if err != nil {
			return fmt.Errorf("verifyTimeout: %q is not a duration like \"90s\" or \"5m\"", fe.VerifyTimeout)
		}
		if d <= 0 {
			return fmt.Errorf("verifyTimeout: %q must be positive", fe.VerifyTimeout)
		}
		s.VerifyTimeout = d
	}
	return nil
}

// base is the entry's service before its other keys apply: the catalog's
// API at the entry's version (its default version without one) for a known
// host, and an AIP service at https://{host} with the cloud-platform scope
// for another host. An entry for another host, or for a version of a known
// host that the catalog lacks, needs patterns.
func (fe fileEntry) base() (*Service, error) {
	if fe.Version != "" && (request.ValidateName(fe.Version) != nil || strings.Contains(fe.Version, "/")) {
		return nil, fmt.Errorf("version: %q is not a single path segment", fe.Version)
	}
	if knownHost(fe.Host) {
		if a, ok := KnownAPI(fe.Host, fe.Version); ok {
			return ServiceOf(a), nil
		}
		if len(fe.Patterns) == 0 {
			return nil, fmt.Errorf("version: %q is not a version of %s in the catalog (%s); another version needs its patterns", fe.Version, fe.Host, strings.Join(versions(fe.Host), ", "))
		}
		// A version newer than the catalog: the API's default version but
		// its requests under {version}/, for the entry's patterns.
		a, _ := KnownAPI(fe.Host, "")
		s := ServiceOf(a)
		s.Version, s.Routes = fe.Version, nil
		return s, nil
	}
	if len(fe.Patterns) == 0 {
		return nil, fmt.Errorf("patterns: at least one pattern is required: %s is %w", fe.Host, ErrNotInCatalog)
	}
	version := fe.Version
	if version == "" {
		version = "v1"
	}
	return &Service{
		Host:     fe.Host,
		Endpoint: &url.URL{Scheme: "https", Host: fe.Host},
		Version:  version,
		Dialect:  DialectAIP,
		Scopes:   []string{cloudPlatformScope}, // an entry that names no scope
	}, nil
}

// applyPatterns replaces the service's routes with the entry's patterns. A
// pattern the catalog has keeps its route; another one is sent where the
// service's first route is (or under {version}/).
func (fe fileEntry) applyPatterns(s *Service) error {
	if len(fe.Patterns) == 0 {
		return nil
	}
	prefix, cancelGET := s.Version+"/", false
	if len(s.Routes) > 0 {
		prefix, cancelGET = s.Routes[0].Prefix, s.Routes[0].CancelGET
	}
	routes := make([]Route, 0, len(fe.Patterns))
	for j, p := range fe.Patterns {
		t, err := parseTemplate(p)
		if err == nil {
			err = literalFirst(t)
		}
		if err != nil {
			return fmt.Errorf("patterns[%d]: %w", j, err)
		}
		if !fe.AllowNonOperationPatterns {
			if err := operationShaped(t); err != nil {
				return fmt.Errorf("patterns[%d]: %w", j, err)
			}
		}
		r := Route{Pattern: t, Prefix: prefix, CancelGET: cancelGET}
		for _, known := range s.Routes {
			if known.Pattern.String() == p {
				r = known
				break
			}
		}
		routes = append(routes, r)
	}
	s.Routes = routes
	return nil
}

// operationShaped requires a template to end in a wildcard after a literal
// "operations" segment, the shape of an operation name: a typo such as "**"
// or "projects/**" would otherwise make every name of the API cancellable.
func operationShaped(t Template) error {
	n := len(t.segments)
	if n >= 2 && t.segments[n-2] == "operations" && (t.segments[n-1] == "*" || t.segments[n-1] == "**") {
		return nil
	}
	return fmt.Errorf("%q is not the shape of an operation name: a pattern must end in \"operations/*\" or \"operations/**\" (set allowNonOperationPatterns: true for an API whose operations are named otherwise)", t.raw)
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
