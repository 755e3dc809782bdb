package lrotest

import (
	"fmt"
	"strings"

	"opcancel/lro"
)

// Endpoints maps built-in service hosts to the base URLs a services file
// points them at.
type Endpoints map[string]string

// AllAt points every built-in service at one base URL, as a single fake
// serving every built-in pattern can answer for all of them.
func AllAt(url string) Endpoints {
	e := Endpoints{}
	for _, s := range lro.Builtin() {
		e[s.Host] = url
	}
	return e
}

// ServicesYAML returns a services file (see docs/contract.md#the-services-file)
// that points each built-in service named in endpoints at its URL. An entry
// names only its host and endpoint, as a user overriding a built-in writes
// it: the version, patterns and scopes come from the built-in, so tests and
// the demo reach fakes with the real services' routing. extra[host] holds
// further keys of that service's entry, one "key: value" per line (such as
// "rate: 200"). Built-ins absent from endpoints are left out of the file and
// keep their real endpoints.
func ServicesYAML(endpoints Endpoints, extra map[string]string) string {
	var b strings.Builder
	b.WriteString("services:\n")
	for _, s := range lro.Builtin() {
		url, ok := endpoints[s.Host]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "  - host: %s\n    endpoint: %s\n", s.Host, url)
		if more := strings.TrimSpace(extra[s.Host]); more != "" {
			for _, line := range strings.Split(more, "\n") {
				fmt.Fprintf(&b, "    %s\n", strings.TrimSpace(line))
			}
		}
	}
	return b.String()
}

// TokensToFakes returns the extra keys (for ServicesYAML) with which the
// entries of the built-in services named in endpoints let auth adc send
// their tokens to fakes outside Google's domain: allowTokenOutsideGoogle
// and the built-in's scopes, as the services file requires
// (docs/contract.md#the-services-file). more[host] is added to them.
func TokensToFakes(endpoints Endpoints, more map[string]string) map[string]string {
	extra := map[string]string{}
	for _, s := range lro.Builtin() {
		if _, ok := endpoints[s.Host]; !ok {
			continue
		}
		scopes := make([]string, len(s.Scopes))
		for i, sc := range s.Scopes {
			scopes[i] = fmt.Sprintf("%q", sc)
		}
		extra[s.Host] = fmt.Sprintf("allowTokenOutsideGoogle: true\nscopes: [%s]\n%s", strings.Join(scopes, ", "), more[s.Host])
	}
	return extra
}
