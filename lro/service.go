package lro

import (
	"net/url"
	"opcancel/request"
	"strings"
	"time"
)

// Service is one enabled API: the only places a request can go.
type Service struct {
	// Host is the service name messages use, e.g. "vault.googleapis.com".
	Host string
	// Endpoint is the base URL requests go to, e.g. "https://vault.googleapis.com".
	Endpoint *url.URL
	// Regional maps a location to the endpoint of the operations named in
	// it (see docs/contract.md#regional-endpoints). Empty when the API has no
	// locational endpoints or the services file set the endpoint.
	Regional map[string]*url.URL
	// Version is the API version, e.g. "v1".
	Version string
	// Dialect is the shape of the service's operation requests and resources.
	Dialect Dialect
	// Routes are the templates an operation name of this service matches,
	// with where their requests go.
	Routes []Route
	// Scopes are the OAuth2 scopes of the service's token.
	Scopes []string
	// Subject is the user to impersonate through domain-wide delegation, if any.
	Subject string
	// Allow, when not empty, are the templates of the operation names this
	// deployment may cancel; a name outside them is forbidden (see Allowed).
	Allow []Template
	// TokenOutsideGoogle lets a token go to endpoints outside Google's
	// domain: the services file said so (allowTokenOutsideGoogle).
	TokenOutsideGoogle bool
	// Rate caps requests per second to the service (cancel, get and list
	// together); 0 means unlimited.
	Rate float64
	// MaxConcurrency caps this service's requests in flight at once: its
	// share of the worker's pool (see docs/design.md#bounds). 0 means the
	// worker's default share.
	MaxConcurrency int
	// VerifyTimeout overrides the worker's verify timeout for this service when non-zero.
	VerifyTimeout time.Duration
}

// Route is one template of operation names and how its requests are made.
type Route struct {
	// Pattern is the template the names match.
	Pattern Template
	// Prefix is the URL path between the endpoint and the name, e.g. "v1/".
	Prefix string
	// CancelGET sends the cancel with GET instead of POST.
	CancelGET bool
	// NoGet marks names the API cannot read with operations.get: a cancel
	// of theirs cannot be verified. NoList marks collections it cannot list.
	NoGet, NoList bool
}

// Match reports whether name is a valid operation name of this service: it
// passes ValidateName, matches one of the service's patterns completely and,
// where the service has regional endpoints, names a location that has one.
func (s *Service) Match(name string) error {
	_, err := s.route(name)
	return err
}

// route returns the first route whose pattern name matches, and checks that
// the name's location has an endpoint.
func (s *Service) route(name string) (*Route, error) {
	if err := request.ValidateName(name); err != nil {
		return nil, err
	}
	r := s.matchRoute(name)
	if r == nil {
		return nil, invalidf("name %q does not match %s's patterns %s", name, s.Host, s.patternList())
	}
	if _, err := s.endpointFor(r, name); err != nil {
		return nil, err
	}
	return r, nil
}

// matchRoute returns the first route whose pattern matches name, or nil;
// the caller has validated name.
func (s *Service) matchRoute(name string) *Route {
	for i := range s.Routes {
		if s.Routes[i].Pattern.Match(name) {
			return &s.Routes[i]
		}
	}
	return nil
}

// Patterns returns the service's name templates as written.
func (s *Service) Patterns() []string {
	ps := make([]string, len(s.Routes))
	for i, r := range s.Routes {
		ps[i] = r.Pattern.String()
	}
	return ps
}

func (s *Service) patternList() string {
	ps := s.Patterns()
	if len(ps) > 8 {
		ps = append(ps[:8:8], "…")
	}
	return "[" + strings.Join(ps, " ") + "]"
}

// Readable reports whether the operation name can be read with
// operations.get, so that a cancel of it can be verified.
func (s *Service) Readable(name string) bool {
	r, err := s.route(name)
	return err == nil && !r.NoGet
}

// ValidateParent checks an operations.list parent (a collection such as
// "operations" or "enterprises/e1/devices/d1/operations"): a valid name whose
// children are this service's operations and that the API can list.
func (s *Service) ValidateParent(parent string) error {
	_, err := s.listRoute(parent)
	return err
}

// listRoute returns the route of the children of parent.
func (s *Service) listRoute(parent string) (*Route, error) {
	if err := request.ValidateName(parent); err != nil {
		return nil, err
	}
	child := parent + "/x"
	r := s.matchRoute(child)
	if r == nil {
		return nil, invalidf("%q is not a collection of %s operations (patterns %s)", parent, s.Host, s.patternList())
	}
	if r.NoList {
		return nil, invalidf("%s cannot list the operations of %q (it has no operations.list for %s)", s.Host, parent, r.Pattern)
	}
	if _, err := s.endpointFor(r, child); err != nil {
		return nil, err
	}
	return r, nil
}
