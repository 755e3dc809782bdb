package main

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// api is one catalog entry, as the generated table spells it.
type api struct {
	name, version, host, rootURL, dialect string
	scopes                                []string
	routes                                []route
	endpoints                             [][2]string // location, URL
}

type route struct {
	pattern, prefix string
	cancelGET       bool
	get, list       bool
}

// Dialects, as the generated table names them (lro's Dialect constants).
const (
	dialectAIP       = "DialectAIP"
	dialectStorage   = "DialectStorage"
	dialectCloudSQL  = "DialectCloudSQL"
	dialectContainer = "DialectContainer"
)

// buildAPI makes the catalog entry of d, or nil when d has no operations
// cancel method.
func buildAPI(d *doc) (*api, error) {
	resources := operationsResources(d)
	if len(resources) == 0 {
		return nil, nil
	}
	u, err := url.Parse(d.RootURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Path != "/" {
		return nil, fmt.Errorf("%s: rootUrl %q is not https://host/", d.ID, d.RootURL)
	}
	if err := checkGoogleHost(d, "rootUrl", u.Host); err != nil {
		return nil, err
	}
	a := &api{name: d.Name, version: d.Version, host: u.Host, rootURL: d.RootURL}
	for _, r := range resources {
		rt, dialect, err := buildRoute(d, r)
		if err != nil {
			return nil, err
		}
		switch {
		case a.dialect == "":
			a.dialect = dialect
		case a.dialect != dialect:
			return nil, fmt.Errorf("%s: operations of two dialects, %s and %s", d.ID, a.dialect, dialect)
		}
		if scopes := r.Methods["cancel"].Scopes; len(scopes) > 0 {
			a.scopes = commonScopes(a.scopes, scopes)
			if len(a.scopes) == 0 {
				return nil, fmt.Errorf("%s: no scope is accepted by every cancel method", d.ID)
			}
		}
		a.routes = append(a.routes, rt)
	}
	slices.SortStableFunc(a.routes, func(x, y route) int {
		if c := strings.Compare(x.pattern, y.pattern); c != 0 {
			return c
		}
		return len(x.prefix) - len(y.prefix) // a duplicate pattern: the shorter prefix first
	})
	if a.endpoints, err = endpoints(d, a.host); err != nil {
		return nil, err
	}
	return a, nil
}

// commonScopes returns the scopes of have that next also accepts, or next
// when have is nil: an API's scopes are those every cancel method that
// declares scopes accepts.
func commonScopes(have, next []string) []string {
	if have == nil {
		return append([]string{}, next...)
	}
	var out []string
	for _, s := range have {
		if slices.Contains(next, s) {
			out = append(out, s)
		}
	}
	return out
}

// buildRoute derives the route of an operations resource from its cancel,
// get and list methods, and the dialect they speak.
func buildRoute(d *doc, r *resource) (route, string, error) {
	cancel := r.Methods["cancel"]
	cp, err := splitPath(d, cancel)
	if err != nil {
		return route{}, "", err
	}
	rt := route{pattern: cp.pattern, prefix: cp.prefix}
	switch cancel.HTTPMethod {
	case "POST":
	case "GET":
		rt.cancelGET = true
	default:
		return route{}, "", fmt.Errorf("%s: cancel is %s", cancel.ID, cancel.HTTPMethod)
	}
	shape := "longrunning" // what a get answers; assumed when there is no get
	if get := r.Methods["get"]; get != nil {
		gp, err := splitPath(d, get)
		if err != nil {
			return route{}, "", err
		}
		both := narrower(cp.pattern, gp.pattern)
		if gp.prefix != cp.prefix || gp.suffix != "" || both == "" || get.HTTPMethod != "GET" {
			return route{}, "", fmt.Errorf("%s: %s %s%s%s does not read the operations %s cancels", get.ID, get.HTTPMethod, gp.prefix, gp.pattern, gp.suffix, cancel.ID)
		}
		rt.pattern, rt.get = both, true
		if shape, err = resourceShape(d, get); err != nil {
			return route{}, "", err
		}
	}
	if list := r.Methods["list"]; list != nil {
		lp, err := splitPath(d, list)
		if err != nil {
			return route{}, "", err
		}
		if lp.prefix != cp.prefix || lp.pattern+lp.suffix != parent(cp.pattern) || list.HTTPMethod != "GET" {
			return route{}, "", fmt.Errorf("%s: %s %s%s%s does not list the operations %s cancels", list.ID, list.HTTPMethod, lp.prefix, lp.pattern, lp.suffix, cancel.ID)
		}
		rt.list = true
	}
	dialect, ok := map[[2]string]string{
		{":cancel", "longrunning"}: dialectAIP,
		{"/cancel", "longrunning"}: dialectStorage,
		{"/cancel", "sql"}:         dialectCloudSQL,
		{":cancel", "container"}:   dialectContainer,
	}[[2]string{cp.suffix, shape}]
	if !ok {
		return route{}, "", fmt.Errorf("%s: a cancel ending in %q with %s operations is no known dialect", cancel.ID, cp.suffix, shape)
	}
	return rt, dialect, nil
}

// narrower returns the template of the names both a and b accept when they
// are equal or differ only in a final "**" against "*" (an API whose get
// takes fewer names than its cancel), and "" otherwise.
func narrower(a, b string) string {
	switch {
	case a == b:
		return a
	case strings.HasSuffix(a, "/**") && b == strings.TrimSuffix(a, "*"):
		return b
	case strings.HasSuffix(b, "/**") && a == strings.TrimSuffix(b, "*"):
		return a
	}
	return ""
}

// resourceShape tells the operation resource a get answers:
// "longrunning" (google.longrunning.Operation: done, error, response),
// "sql" (Cloud SQL: status DONE, error.errors[]) or "container" (GKE:
// status DONE, error as a google.rpc.Status).
func resourceShape(d *doc, get *method) (string, error) {
	var op *schema
	if get.Response != nil {
		op = d.schema(get.Response.Ref)
	}
	if op == nil {
		return "", fmt.Errorf("%s: no response schema", get.ID)
	}
	props := op.Properties
	if p := props["done"]; p != nil && p.Type == "boolean" {
		return "longrunning", nil
	}
	status, errp := props["status"], props["error"]
	var errSchema *schema
	if errp != nil {
		errSchema = d.schema(errp.Ref)
	}
	if status == nil || !slices.Contains(status.Enum, "DONE") || errSchema == nil {
		return "", fmt.Errorf("%s: operation schema %s has neither done nor status DONE with an error", get.ID, get.Response.Ref)
	}
	errProps := errSchema.Properties
	switch {
	case errProps["errors"] != nil && errProps["errors"].Type == "array":
		return "sql", nil
	case errProps["code"] != nil && errProps["message"] != nil:
		return "container", nil
	}
	return "", fmt.Errorf("%s: operation schema %s: unknown error shape %s", get.ID, get.Response.Ref, errp.Ref)
}

// endpoints returns the document's locational endpoints, one per location,
// sorted by location. A location with several endpoints keeps the one named
// after the API itself: "{location}-{host}" (a locational endpoint) before
// "{api}.{location}.rep.googleapis.com" (a regional one) before any other
// (Firestore's "batch-firestore…", Vertex AI's "aiplatform-preprod…").
func endpoints(d *doc, host string) ([][2]string, error) {
	best := map[string]string{}
	score := map[string]int{}
	label, _, _ := strings.Cut(host, ".")
	for _, e := range d.Endpoints {
		u, err := url.Parse(e.EndpointURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.Path != "/" || e.Location == "" {
			return nil, fmt.Errorf("%s: endpoint %q for location %q is not https://host/", d.ID, e.EndpointURL, e.Location)
		}
		if err := checkGoogleHost(d, "endpoint of "+e.Location, u.Host); err != nil {
			return nil, err
		}
		s := 0
		switch first, _, _ := strings.Cut(u.Host, "."); {
		case u.Host == e.Location+"-"+host:
			s = 2
		case first == label:
			s = 1
		}
		prev, seen := score[e.Location]
		switch {
		case seen && s == prev:
			return nil, fmt.Errorf("%s: location %q has two endpoints, %s and %s, and neither is named after %s", d.ID, e.Location, best[e.Location], e.EndpointURL, host)
		case !seen || s > prev:
			best[e.Location], score[e.Location] = e.EndpointURL, s
		}
	}
	var eps [][2]string
	for loc, u := range best {
		eps = append(eps, [2]string{loc, u})
	}
	slices.SortFunc(eps, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return eps, nil
}

// googleDomain is the domain every endpoint of the catalog is under. The
// worker sends Application Default Credentials' tokens to a catalog API's
// endpoints without asking (lro's googleHost holds the same rule): a
// discovery document naming a host elsewhere must stop the generator, not
// reach the catalog.
const googleDomain = ".googleapis.com"

// checkGoogleHost refuses a host of d's outside googleDomain; what names it.
func checkGoogleHost(d *doc, what, host string) error {
	if h := strings.ToLower(host); !strings.HasSuffix(h, googleDomain) || strings.ContainsAny(h, ":@[]") {
		return fmt.Errorf("%s: %s %q is outside Google's domain (*%s): the catalog's endpoints receive tokens", d.ID, what, host, googleDomain)
	}
	return nil
}
