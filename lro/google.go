package lro

import (
	"fmt"
	"strings"
)

// googleDomain is the domain of Google's API endpoints: every root URL and
// regional endpoint of the catalog is under it (the catalog's generator
// refuses a discovery document that names another; lro/internal/gendiscovery).
const googleDomain = ".googleapis.com"

// googleHost reports whether an endpoint's host (a port allowed) is under
// googleapis.com, where a token from Application Default Credentials may
// go without a services-file entry that says so.
func googleHost(host string) bool {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		host = host[:i]
	}
	host = strings.ToLower(host)
	return strings.HasSuffix(host, googleDomain) && validateHost(host) == nil
}

// foreignHosts returns the hosts of the service's endpoints outside
// Google's domain.
func (s *Service) foreignHosts() []string {
	var out []string
	for _, h := range s.EndpointHosts() {
		if !googleHost(h) {
			out = append(out, h)
		}
	}
	return out
}

// checkTokenDestination refuses an entry whose requests would carry a
// token to a host outside Google's domain, unless the entry says so with
// allowTokenOutsideGoogle and names the token's scopes itself: a typo
// (vault.googleapi.co) or a hostile change of the file must not send the
// broadest token to whoever owns that name.
func (fe fileEntry) checkTokenDestination(s *Service) error {
	foreign := s.foreignHosts()
	switch {
	case len(foreign) == 0:
		return nil
	case !fe.AllowTokenOutsideGoogle:
		return fmt.Errorf("endpoint: %w", &ForeignHostError{Host: foreign[0]})
	case len(fe.Scopes) == 0:
		return fmt.Errorf("scopes: required with allowTokenOutsideGoogle: name the scopes of the token %s may receive", foreign[0])
	}
	for i, sc := range fe.Scopes {
		if broadScope(sc) {
			return fmt.Errorf("scopes[%d]: %q is too broad for a token sent outside Google (%s, allowTokenOutsideGoogle): "+
				"it lets whoever holds it act as the credentials on every Google Cloud API, or mint tokens that do; "+
				"name only the scopes this service's cancel and get accept", i, sc, foreign[0])
		}
	}
	return nil
}

// broadScopes are the scopes a token sent outside Google must not have:
// with cloud-platform its holder may call every Google Cloud API the
// credentials may (read them all with its read-only variant), and with
// iam it may mint tokens of any scope for the service accounts the
// credentials may act as, the worker's own among them where Vault's
// subject needs it (docs/operations.md#iam). Token sources are shared by
// scope set, so such a token would also be the one of every other service
// with the same scopes.
var broadScopes = []string{
	"https://www.googleapis.com/auth/cloud-platform",
	"https://www.googleapis.com/auth/cloud-platform.read-only",
	"https://www.googleapis.com/auth/iam",
}

func broadScope(scope string) bool {
	scope = strings.TrimSuffix(scope, "/")
	for _, b := range broadScopes {
		if strings.EqualFold(scope, b) {
			return true
		}
	}
	return false
}

// ForeignHostError is an endpoint refused because it is outside Google's
// domain while requests carry bearer tokens (FileOptions.SendsTokens) and
// its entry does not say that it may receive them.
type ForeignHostError struct {
	Host string
}

func (e *ForeignHostError) Error() string {
	return e.Explain("auth "+AuthADC, "auth "+AuthNone)
}

// Explain describes the error naming the auth settings as the caller's
// users set them, as PlainHTTPError.Explain does.
func (e *ForeignHostError) Explain(adc, none string) string {
	return fmt.Sprintf("%s is outside Google's domain (*%s), and %s would send it a bearer token: "+
		"if it should get one (a private gateway or proxy), set allowTokenOutsideGoogle: true and the token's scopes in this entry; "+
		"for an emulator or a fake, use %s", e.Host, googleDomain, adc, none)
}
