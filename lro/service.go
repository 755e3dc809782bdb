package lro

import (
	"net/url"
	"strings"
	"time"
)

// Service is one allowlisted API: the only places a request can go.
type Service struct {
	// Host is the service name messages use, e.g. "vault.googleapis.com".
	Host string
	// Endpoint is the base URL requests go to, e.g. "https://vault.googleapis.com".
	Endpoint *url.URL
	// Version is the API version path segment, e.g. "v1".
	Version string
	// Patterns are the templates an operation name of this service matches.
	Patterns []Template
	// Scopes are the OAuth2 scopes of the service's token.
	Scopes []string
	// Subject is the user to impersonate through domain-wide delegation, if any.
	Subject string
	// Rate caps requests per second to the service (cancel, get and list
	// together); 0 means unlimited.
	Rate float64
	// VerifyTimeout overrides the worker's verify timeout for this service when non-zero.
	VerifyTimeout time.Duration
}

// Match reports whether name is a valid operation name of this service: it
// passes ValidateName and matches one of the service's patterns completely.
func (s *Service) Match(name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	for _, p := range s.Patterns {
		if p.Match(name) {
			return nil
		}
	}
	return invalidf("name %q does not match %s's patterns %s", name, s.Host, s.patternList())
}

func (s *Service) patternList() string {
	ps := make([]string, len(s.Patterns))
	for i, p := range s.Patterns {
		ps[i] = p.String()
	}
	return "[" + strings.Join(ps, " ") + "]"
}

// ValidateParent checks an operations.list parent (a collection such as
// "operations" or "enterprises/e1/devices/d1/operations"): a valid name whose
// children are this service's operations.
func (s *Service) ValidateParent(parent string) error {
	if err := ValidateName(parent); err != nil {
		return err
	}
	child := parent + "/x"
	for _, p := range s.Patterns {
		if p.Match(child) {
			return nil
		}
	}
	return invalidf("%q is not a collection of %s operations (patterns %s)", parent, s.Host, s.patternList())
}
