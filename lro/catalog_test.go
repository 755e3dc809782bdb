package lro

import (
	"testing"
)

func TestCatalogEntriesMakeServices(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, a := range Catalog() {
		id := a.Host + " " + a.Version
		if seen[id] {
			t.Errorf("%s is in the catalog twice", id)
		}
		seen[id] = true
		s := ServiceOf(a)
		if s.Endpoint.Scheme != "https" || s.Endpoint.Host != a.Host || s.Endpoint.Path != "" {
			t.Errorf("%s: endpoint %s", id, s.Endpoint)
		}
		for loc, u := range s.Regional {
			if u.Scheme != "https" || u.Path != "" || u.Host == "" {
				t.Errorf("%s: endpoint of %s is %s", id, loc, u)
			}
		}
		if len(s.Routes) == 0 || len(s.Scopes) != 1 {
			t.Errorf("%s: %d routes, scopes %v", id, len(s.Routes), s.Scopes)
		}
		if err := validateHost(a.Host); err != nil {
			t.Errorf("%s: %v", id, err)
		}
		// Every endpoint of the catalog gets tokens without an opt-in.
		if foreign := s.foreignHosts(); len(foreign) > 0 {
			t.Errorf("%s: endpoints outside Google's domain: %v", id, foreign)
		}
	}
}

func TestDefaultVersions(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]string{
		"aiplatform.googleapis.com":     "v1",
		"sqladmin.googleapis.com":       "v1",
		"dialogflow.googleapis.com":     "v3",
		"securitycenter.googleapis.com": "v1",
		"documentai.googleapis.com":     "v1",
		"gkehub.googleapis.com":         "v2",
	} {
		if a, ok := KnownAPI(host, ""); !ok || a.Version != want {
			t.Errorf("default version of %s = %q (known %v), want %s", host, a.Version, ok, want)
		}
	}
	if _, ok := KnownAPI("example.googleapis.com", ""); ok {
		t.Error("KnownAPI(example.googleapis.com) = true")
	}
}

func TestCompareVersions(t *testing.T) {
	t.Parallel()
	// Most preferred first.
	order := []string{"v3", "v2", "v1", "v2beta", "v1p1beta1", "v1beta4", "v1beta1", "v1beta", "v3alpha1", "v1alpha2", "v1alpha"}
	for i := 0; i+1 < len(order); i++ {
		if compareVersions(order[i], order[i+1]) <= 0 {
			t.Errorf("compareVersions(%s, %s) <= 0, want %s preferred", order[i], order[i+1], order[i])
		}
	}
}
