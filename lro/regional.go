package lro

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// globalLocation is the location whose operations the global endpoint serves.
const globalLocation = "global"

// endpointFor returns the endpoint of the operation name, which matches r:
// the regional endpoint of the name's location when the service has
// regional endpoints and the name has a location, the global endpoint
// otherwise (see docs/contract.md#regional-endpoints). A location without an
// endpoint is invalid: a host is never made from the text of a name.
func (s *Service) endpointFor(r *Route, name string) (*url.URL, error) {
	if len(s.Regional) == 0 {
		return s.Endpoint, nil
	}
	i := r.Pattern.location()
	if i < 0 {
		return s.Endpoint, nil
	}
	loc := segment(name, i)
	if loc == globalLocation {
		return s.Endpoint, nil
	}
	if u, ok := s.Regional[loc]; ok {
		return u, nil
	}
	return nil, invalidf("location %q of name %q has no %s endpoint: the table has %s and %q (an endpoint in the services file takes every request)",
		truncate(loc, 80), truncate(name, 200), s.Host, s.locationList(), globalLocation)
}

// segment returns the i-th segment of a valid name.
func segment(name string, i int) string {
	for range i {
		_, name, _ = strings.Cut(name, "/")
	}
	seg, _, _ := strings.Cut(name, "/")
	return seg
}

// locationList names the locations with a regional endpoint, abbreviated.
func (s *Service) locationList() string {
	locs := make([]string, 0, len(s.Regional))
	for l := range s.Regional {
		locs = append(locs, l)
	}
	slices.Sort(locs)
	if len(locs) > 4 {
		locs = append(locs[:4], "…")
	}
	return fmt.Sprintf("%d locations (%s)", len(s.Regional), strings.Join(locs, ", "))
}

// EndpointHosts returns every host the service's requests may go to: the
// endpoint's and its regional endpoints', sorted. A token is bound to these.
func (s *Service) EndpointHosts() []string {
	hosts := []string{s.Endpoint.Host}
	for _, u := range s.Regional {
		hosts = append(hosts, u.Host)
	}
	slices.Sort(hosts)
	return slices.Compact(hosts)
}

// EndpointOf returns the host of the endpoint the requests about name go
// to: its location's regional endpoint, or the global one (see
// docs/contract.md#regional-endpoints). It is one of EndpointHosts, never
// text of the name.
func (s *Service) EndpointOf(name string) (string, error) {
	r, err := s.route(name)
	if err != nil {
		return "", err
	}
	u, err := s.endpointFor(r, name)
	if err != nil {
		return "", err
	}
	return u.Host, nil
}
