package lro

import (
	"net/url"
	"slices"
)

// seedHosts are the APIs enabled without a services file.
var seedHosts = []string{"vault.googleapis.com", "androidmanagement.googleapis.com"}

// Builtin returns the seed services, the Vault API and the Android
// Management API, as the catalog describes them (see
// docs/contract.md#the-services-file).
func Builtin() []*Service {
	out := make([]*Service, len(seedHosts))
	for i, h := range seedHosts {
		a, ok := KnownAPI(h, "")
		if !ok {
			panic("lro: seed " + h + " is not in the catalog")
		}
		out[i] = ServiceOf(a)
	}
	return out
}

// ServiceOf returns the service of a catalog API as a services-file entry
// that sets only its host (and version) enables it.
func ServiceOf(a API) *Service {
	s := &Service{
		Host:     a.Host,
		Endpoint: rootURL(a.RootURL),
		Version:  a.Version,
		Dialect:  a.Dialect,
		Scopes:   tokenScopes(a.Scopes),
	}
	for _, e := range a.Endpoints {
		if s.Regional == nil {
			s.Regional = make(map[string]*url.URL, len(a.Endpoints))
		}
		s.Regional[e.Location] = rootURL(e.URL)
	}
	for _, r := range a.Routes {
		s.Routes = append(s.Routes, Route{
			Pattern:   MustParseTemplate(r.Pattern),
			Prefix:    r.Prefix,
			CancelGET: r.CancelGET,
			NoGet:     !r.Get,
			NoList:    !r.List,
		})
	}
	return s
}

// rootURL parses a catalog root URL ("https://host/") into an endpoint
// without a path; the catalog's tests check that every one parses.
func rootURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	u.Path = ""
	return u
}

// tokenScopes picks the scopes of a token for an API from those its cancel
// method accepts, any one of which suffices: cloud-platform when it is
// accepted (the metadata server's tokens carry it), else the first one
// accepted (the Vault API's ediscovery), else cloud-platform.
func tokenScopes(accepted []string) []string {
	if len(accepted) == 0 || slices.Contains(accepted, cloudPlatformScope) {
		return []string{cloudPlatformScope}
	}
	return []string{accepted[0]}
}
