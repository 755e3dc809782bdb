package lro

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Methods, as they appear in the metrics' method label.
const (
	methodCancel = "cancel"
	methodGet    = "get"
	methodList   = "list"
)

// MaxBodyBytes caps every response body read from an API.
const MaxBodyBytes = 1 << 20

// Auth modes.
const (
	// AuthADC attaches OAuth2 tokens from Application Default Credentials.
	AuthADC = "adc"
	// AuthNone sends no credentials: for emulators and tests.
	AuthNone = "none"
)

// Observer is told about every request the client sends. It is how the
// caller instruments outbound HTTP once, at the single place every request
// passes through, with the google.rpc code that only a parsed body can tell.
type Observer interface {
	// RequestStarted is called before a request is sent.
	RequestStarted(service, method string)
	// RequestFinished is called once per started request with the code of its
	// answer (Transport if none) and how long it took.
	RequestFinished(service, method string, code Code, d time.Duration)
}

// Config configures a Client. The zero value of a field means its default.
type Config struct {
	// Auth is AuthADC (default) or AuthNone.
	Auth string
	// RequestTimeout bounds one request, from sending to the last byte of the
	// answer. Default 30s.
	RequestTimeout time.Duration
	// MaxConnsPerHost sizes the shared transport's connection pool; set it to
	// the worker's concurrency. Default 64.
	MaxConnsPerHost int
	// Transport is the base transport; nil means a new *http.Transport sized
	// by MaxConnsPerHost. Tests pass lrotest's in-memory transport here.
	Transport http.RoundTripper
	// TokenSource makes token sources; nil with AuthADC means Application
	// Default Credentials (adcTokenSource).
	TokenSource TokenSourceFunc
	// QuotaProject is GOOGLE_CLOUD_QUOTA_PROJECT: the project billed for
	// the quota of requests made with credentials (x-goog-user-project). It
	// wins over the credentials' own quota_project_id, as in Google's auth
	// libraries; empty means theirs. It is sent only with a token.
	QuotaProject string
	// Observer, if set, is told about every request.
	Observer Observer
	// UserAgent is sent on every request.
	UserAgent string
	// Now is the clock for Retry-After dates; nil means time.Now.
	Now func() time.Time
}

// DefaultRequestTimeout is the default of Config.RequestTimeout.
const DefaultRequestTimeout = 30 * time.Second

// Client sends operations.cancel, get and list to the services of a Table.
// It never retries and never logs; it is safe for concurrent use.
type Client struct {
	table    *Table
	timeout  time.Duration
	observer Observer
	ua       string
	now      func() time.Time
	// clients holds one *http.Client per service host, all sharing one
	// transport; each attaches its service's token, if any.
	clients map[string]*http.Client
}

// New returns a client for the services in table. With AuthADC it creates
// one token source per distinct (scopes, subject), shared by the services
// that need it; failing to find credentials is an error here, at start-up.
func New(ctx context.Context, table *Table, cfg Config) (*Client, error) {
	if cfg.Auth == "" {
		cfg.Auth = AuthADC
	}
	if cfg.Auth != AuthADC && cfg.Auth != AuthNone {
		return nil, fmt.Errorf("auth %q: want %q or %q", cfg.Auth, AuthADC, AuthNone)
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.MaxConnsPerHost <= 0 {
		cfg.MaxConnsPerHost = 64
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	base := cfg.Transport
	if base == nil {
		base = NewTransport(cfg.MaxConnsPerHost)
	}
	c := &Client{
		table:    table,
		timeout:  cfg.RequestTimeout,
		observer: cfg.Observer,
		ua:       cfg.UserAgent,
		now:      cfg.Now,
		clients:  map[string]*http.Client{},
	}
	if cfg.Auth == AuthADC && cfg.QuotaProject != "" {
		if err := checkQuotaProject(cfg.QuotaProject, "GOOGLE_CLOUD_QUOTA_PROJECT"); err != nil {
			return nil, err
		}
	}
	tokens := newTokenCache(cfg.TokenSource, cfg.QuotaProject)
	for _, s := range table.Services() {
		rt := base
		if cfg.Auth == AuthADC {
			if s.Endpoint.Scheme != "https" {
				return nil, fmt.Errorf("service %s: endpoint %s is plain http; a bearer token is only sent over https", s.Host, s.Endpoint)
			}
			if foreign := s.foreignHosts(); len(foreign) > 0 && !s.TokenOutsideGoogle {
				return nil, fmt.Errorf("service %s: endpoint %s is outside Google's domain; a bearer token goes there only when the services file says so (allowTokenOutsideGoogle)", s.Host, foreign[0])
			}
			ts, err := tokens.get(ctx, s.Scopes, s.Subject)
			if err != nil {
				return nil, fmt.Errorf("service %s: credentials: %w", s.Host, err)
			}
			rt = &authTransport{base: base, tokens: ts, hosts: s.EndpointHosts()}
		}
		c.clients[s.Host] = &http.Client{
			Transport: rt,
			// Redirects are never followed: a redirect could carry the
			// token to a host outside the table.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return c, nil
}

// NewTransport returns the shared HTTP transport, its pool sized for
// maxConns requests in flight per host.
func NewTransport(maxConns int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 0
	t.MaxIdleConnsPerHost = maxConns
	t.ResponseHeaderTimeout = 0 // the per-request timeout covers it
	t.ForceAttemptHTTP2 = true
	return t
}

// Table returns the client's service table.
func (c *Client) Table() *Table { return c.table }

// Cancel sends operations.cancel for name: POST
// {endpoint}/{prefix}{name}:cancel with an empty body, or the dialect's form
// of it (see docs/contract.md#requests). nil means the API accepted the cancel.
func (c *Client) Cancel(ctx context.Context, svc *Service, name string) error {
	r, err := c.check(svc, name)
	if err != nil {
		return err
	}
	method := http.MethodPost
	if r.CancelGET {
		method = http.MethodGet
	}
	_, err = c.do(ctx, svc, methodCancel, method, c.url(svc, r, name, name+svc.Dialect.CancelSuffix(), nil))
	return err
}

// Get sends operations.get for name: GET {endpoint}/{prefix}{name}.
func (c *Client) Get(ctx context.Context, svc *Service, name string) (*Operation, error) {
	r, err := c.check(svc, name)
	if err != nil {
		return nil, err
	}
	if r.NoGet {
		return nil, invalidf("%s has no operations.get for %q", svc.Host, name)
	}
	body, err := c.do(ctx, svc, methodGet, http.MethodGet, c.url(svc, r, name, name, nil))
	if err != nil {
		return nil, err
	}
	op, err := svc.Dialect.decodeOperation(body)
	switch {
	case err != nil:
		return nil, notAnOperation("the answer is not an operation: " + err.Error())
	case !sameOperation(op.Name, name):
		return nil, notAnOperation("the answer is not the operation asked for: it names another, or none")
	}
	return op, nil
}

// notAnOperation is a 2xx answer to get that is not the operation asked
// for: a gateway's or a proxy's JSON ({"message": "Forbidden"}, {}), or
// another operation. Google's names the operation (see sameOperation).
func notAnOperation(message string) *Error {
	return &Error{HTTPStatus: http.StatusOK, Code: Unknown, Message: message, NotGoogle: true}
}

// sameOperation reports whether an operation named got in an answer to
// get is the one asked for as want: its name ends in the same operation
// ID. Every dialect names the operation, but not always as it was asked
// for: Cloud SQL and GKE by its ID alone, Cloud Storage under
// projects/_/buckets/, some APIs under the project's number where it was
// asked by its ID.
func sameOperation(got, want string) bool {
	id := func(name string) string { return name[strings.LastIndexByte(name, '/')+1:] }
	return got != "" && id(got) == id(want)
}

// check refuses any request for a service outside the table, a name that
// is not one of the service's operations, or one its allow list forbids,
// whatever the caller validated, and returns the name's route.
func (c *Client) check(svc *Service, name string) (*Route, error) {
	if err := c.own(svc); err != nil {
		return nil, err
	}
	r, err := svc.route(name)
	if err != nil {
		return nil, err
	}
	return r, svc.Allowed(name)
}

// own refuses a service that is not the very one in the client's table.
func (c *Client) own(svc *Service) error {
	if svc == nil || c.table.Lookup(svc.Host) != svc {
		return invalidf("service is not in the client's table")
	}
	return nil
}

// url is the URL of path on the endpoint of name, which matches r and
// whose endpoint the caller has checked.
func (c *Client) url(svc *Service, r *Route, name, path string, q url.Values) string {
	ep, _ := svc.endpointFor(r, name)
	u := *ep
	// Validated names contain only unreserved characters and ':', '@', '=',
	// '+', all legal in a path: the path needs no escaping.
	u.Path = "/" + r.Prefix + path
	u.RawQuery = q.Encode()
	return u.String()
}
