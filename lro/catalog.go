package lro

import (
	"cmp"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"sync"
)

//go:generate go run ./internal/gendiscovery -o catalog_gen.go

// API is one version of a Google API that declares an operations cancel
// method, as the discovery documents of google.golang.org/api describe it
// (see docs/contract.md#the-services-file). The catalog lists every such API
// version; a services-file entry for its host enables it.
type API struct {
	// Name and Version are the discovery document's, e.g. "aiplatform", "v1".
	Name, Version string
	// Host is the host of RootURL, the name messages and the services file use.
	Host string
	// RootURL is the global endpoint, e.g. "https://aiplatform.googleapis.com/".
	RootURL string
	// Dialect is the shape of the API's operation requests and resources.
	Dialect Dialect
	// Scopes are the OAuth2 scopes the cancel method accepts (any one suffices).
	Scopes []string
	// Routes are the API's operation name templates, one per cancel method.
	Routes []APIRoute
	// Endpoints are the API's locational endpoints, by location.
	Endpoints []RegionalEndpoint
}

// APIRoute is one cancel method of an API: the names it takes and where its
// requests go.
type APIRoute struct {
	// Pattern is the template of the operation names, e.g.
	// "projects/*/locations/*/operations/*".
	Pattern string
	// Prefix is the URL path between the endpoint and the name, e.g. "v1/".
	Prefix string
	// CancelGET marks a cancel method served with GET instead of POST.
	CancelGET bool
	// Get and List report whether the operations of this template can be
	// read (operations.get) and listed (operations.list).
	Get, List bool
}

// RegionalEndpoint is an API's endpoint for one location.
type RegionalEndpoint struct {
	Location string
	// URL is the endpoint's root URL, e.g. "https://us-central1-aiplatform.googleapis.com/".
	URL string
}

// Catalog returns every API version of the catalog, sorted by host and version.
func Catalog() []API { return catalog }

// CatalogSource names the module whose discovery documents the catalog was
// generated from, with its version.
func CatalogSource() string { return catalogSource }

// ErrNotInCatalog reports a host that is not the host of an API in the
// catalog: a services-file entry for it must give its patterns.
var ErrNotInCatalog = errors.New("not an API of the catalog")

// knownHost reports whether host is the host of an API in the catalog.
func knownHost(host string) bool {
	_, ok := catalogIndex()[host]
	return ok
}

// KnownAPI returns the catalog's entry for host at version; an empty version
// means the host's default version (see DefaultVersion).
func KnownAPI(host, version string) (API, bool) {
	versions := catalogIndex()[host]
	if len(versions) == 0 {
		return API{}, false
	}
	if version == "" {
		return versions[0], true
	}
	for _, a := range versions {
		if a.Version == version {
			return a, true
		}
	}
	return API{}, false
}

// versions returns the versions the catalog has for host, the default first.
func versions(host string) []string {
	var vs []string
	for _, a := range catalogIndex()[host] {
		vs = append(vs, a.Version)
	}
	return vs
}

// catalogIndex maps each host to its API versions, the default version first.
var catalogIndex = sync.OnceValue(func() map[string][]API {
	idx := map[string][]API{}
	for _, a := range catalog {
		idx[a.Host] = append(idx[a.Host], a)
	}
	for _, vs := range idx {
		slices.SortStableFunc(vs, func(a, b API) int { return compareVersions(b.Version, a.Version) })
	}
	return idx
})

// hostTemplate is a catalog pattern and the host of its API.
type hostTemplate struct {
	Template
	host string
}

// catalogPatterns returns every pattern of the catalog, parsed once.
var catalogPatterns = sync.OnceValue(func() []hostTemplate {
	var out []hostTemplate
	for _, a := range catalog {
		for _, r := range a.Routes {
			out = append(out, hostTemplate{MustParseTemplate(r.Pattern), a.Host})
		}
	}
	return out
})

// versionRE splits an API version such as "v1", "v2beta1" or "v1p1alpha1".
var versionRE = regexp.MustCompile(`^v(\d+)(?:p(\d+))?(alpha|beta)?(\d*)$`)

// compareVersions orders API versions by preference: stable before beta
// before alpha, then the higher major, point and pre-release numbers. The
// most preferred version is a host's default.
func compareVersions(a, b string) int {
	ka, kb := versionKey(a), versionKey(b)
	for i := range ka {
		if c := cmp.Compare(ka[i], kb[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(b, a) // unparsable versions: a stable, arbitrary order
}

// versionKey ranks a version: stability (2 stable, 1 beta, 0 alpha, -1
// unknown form), major, point, pre-release number.
func versionKey(v string) [4]int {
	m := versionRE.FindStringSubmatch(v)
	if m == nil {
		return [4]int{-1, 0, 0, 0}
	}
	stability := map[string]int{"": 2, "beta": 1, "alpha": 0}[m[3]]
	major, _ := strconv.Atoi(m[1])
	point, _ := strconv.Atoi(m[2])
	pre, _ := strconv.Atoi(m[4])
	return [4]int{stability, major, point, pre}
}
