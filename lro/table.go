package lro

import (
	"net/url"
	"strings"
)

// Table is the ordered set of configured services. Routing a name without a
// service uses the first service, in table order, whose pattern it matches.
type Table struct {
	services []*Service
}

// Services returns the services in routing order.
func (t *Table) Services() []*Service { return t.services }

// Hosts returns the configured hosts in routing order.
func (t *Table) Hosts() []string {
	hosts := make([]string, len(t.services))
	for i, s := range t.services {
		hosts[i] = s.Host
	}
	return hosts
}

// Lookup returns the service configured for host, or nil.
func (t *Table) Lookup(host string) *Service {
	for _, s := range t.services {
		if s.Host == host {
			return s
		}
	}
	return nil
}

// Route validates name and returns the service it belongs to. With a host, the
// host must be configured and the name must match its patterns; without one,
// the first service whose patterns match is chosen. Every failure wraps ErrInvalid.
func (t *Table) Route(host, name string) (*Service, error) {
	if host != "" {
		s := t.Lookup(host)
		if s == nil {
			return nil, invalidf("service %q is not configured (configured: %s)", truncate(host, 80), strings.Join(t.Hosts(), ", "))
		}
		return s, s.Match(name)
	}
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	for _, s := range t.services {
		for _, p := range s.Patterns {
			if p.Match(name) {
				return s, nil
			}
		}
	}
	return nil, invalidf("name %q matches no configured service", truncate(name, 200))
}

// truncate shortens s for error messages about hostile input.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Builtin returns the seed services, the Vault API and the Android
// Management API (see docs/contract.md#the-services-file).
func Builtin() []*Service {
	return []*Service{
		{
			Host:     "vault.googleapis.com",
			Endpoint: mustURL("https://vault.googleapis.com"),
			Version:  "v1",
			Patterns: []Template{MustParseTemplate("operations/**")},
			Scopes:   []string{"https://www.googleapis.com/auth/ediscovery"},
		},
		{
			Host:     "androidmanagement.googleapis.com",
			Endpoint: mustURL("https://androidmanagement.googleapis.com"),
			Version:  "v1",
			Patterns: []Template{MustParseTemplate("enterprises/*/devices/*/operations/*")},
			Scopes:   []string{"https://www.googleapis.com/auth/androidmanagement"},
		},
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// NewTable builds a table from the built-in services and the given entries: an
// entry with the host of a built-in replaces it in place, other entries follow
// in their order.
func NewTable(entries []*Service) *Table {
	t := &Table{services: Builtin()}
	for _, e := range entries {
		replaced := false
		for i, s := range t.services {
			if s.Host == e.Host {
				t.services[i], replaced = e, true
				break
			}
		}
		if !replaced {
			t.services = append(t.services, e)
		}
	}
	return t
}
