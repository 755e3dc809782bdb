package lro

import (
	"fmt"
	"opcancel/request"
	"slices"
	"strings"
)

// Table is the ordered set of enabled services (see
// docs/contract.md#the-services-file).
type Table struct {
	services []*Service
	// noBuiltins records that the services file turned the built-ins off,
	// for the errors about their names.
	noBuiltins bool
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

// Route validates name and returns the service it belongs to (see
// docs/contract.md#routing). With a host, the host must be enabled and the
// name must match its patterns; without one, exactly one enabled service's
// patterns must match, or one seed's among them. Every failure wraps ErrInvalid.
func (t *Table) Route(host, name string) (*Service, error) {
	if host != "" {
		s, err := t.Enabled(host)
		if err != nil {
			return nil, err
		}
		return s, s.Match(name)
	}
	if err := request.ValidateName(name); err != nil {
		return nil, err
	}
	var found []*Service
	for _, s := range t.services {
		if s.matchRoute(name) != nil {
			found = append(found, s)
		}
	}
	switch len(found) {
	case 0:
		return nil, invalidf("name %q matches no enabled service%s", truncate(name, 200), t.knownHint(name))
	case 1:
		return found[0], found[0].Match(name)
	}
	if s := onlySeed(found); s != nil {
		return s, s.Match(name)
	}
	hosts := make([]string, len(found))
	for i, s := range found {
		hosts[i] = s.Host
	}
	return nil, invalidf("name %q matches the patterns of %d enabled services (%s); say which: //host/name, or the service field or attribute", truncate(name, 200), len(found), strings.Join(hosts, ", "))
}

// onlySeed returns the one seed service among found, or nil: a bare name
// that a seed's patterns match keeps going to that seed when an enabled API's
// patterns overlap (Vertex AI's operations/* and Vault's operations/**), so
// enabling an API never changes where existing publishers' names go.
func onlySeed(found []*Service) *Service {
	var seed *Service
	for _, s := range found {
		if !slices.Contains(seedHosts, s.Host) {
			continue
		}
		if seed != nil {
			return nil
		}
		seed = s
	}
	return seed
}

// Enabled returns the service enabled for host, or an error wrapping
// ErrInvalid that says how to enable a known API.
func (t *Table) Enabled(host string) (*Service, error) {
	if s := t.Lookup(host); s != nil {
		return s, nil
	}
	if knownHost(host) {
		return nil, invalidf("service %q is known but not enabled%s; the services file line \"- host: %s\" enables it", host, t.builtinsOff(host), host)
	}
	return nil, invalidf("service %q is not configured (enabled: %s)", truncate(host, 80), strings.Join(t.Hosts(), ", "))
}

// knownHint names catalog APIs whose patterns a name matches, for a name
// that matches no enabled service.
func (t *Table) knownHint(name string) string {
	var hosts []string
	for _, p := range catalogPatterns() {
		if p.Match(name) && !slices.Contains(hosts, p.host) {
			hosts = append(hosts, p.host)
		}
	}
	switch len(hosts) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf("; it matches the patterns of %s%s: enable it in the services file (\"- host: %s\")", hosts[0], t.builtinsOff(hosts[0]), hosts[0])
	}
	some := strings.Join(hosts[:min(3, len(hosts))], ", ")
	if len(hosts) > 3 {
		some += ", …"
	}
	return fmt.Sprintf("; it matches the patterns of %d known APIs (%s): enable one in the services file and name it (//host/name)", len(hosts), some)
}

// builtinsOff says, of a built-in's host, that the services file turned
// the built-ins off; "" otherwise.
func (t *Table) builtinsOff(host string) string {
	if t.noBuiltins && slices.Contains(seedHosts, host) {
		return " (a built-in, but the services file sets builtins: false)"
	}
	return ""
}

// truncate shortens s for error messages about hostile input.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// NewTable builds a table from the built-in services and the given entries: an
// entry with the host of a built-in replaces it in place, other entries follow
// in their order.
func NewTable(entries []*Service) *Table {
	return newTable(true, entries)
}

// newTable builds a table from the entries and, when builtins is set, the
// built-in services, as NewTable does.
func newTable(builtins bool, entries []*Service) *Table {
	t := &Table{noBuiltins: !builtins}
	if builtins {
		t.services = Builtin()
	}
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
