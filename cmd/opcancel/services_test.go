package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"opcancel/lro"
)

func servicesJSON(t *testing.T, args ...string) []serviceRow {
	t.Helper()
	out, _, code, err := runCLI(t, nil, append([]string{"services", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("services: exit %d: %v", code, err)
	}
	var rows []serviceRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("services --json: %v\n%s", err, out)
	}
	return rows
}

// Every API version of the catalog (whose counts the catalog's own test
// checks against the discovery documents) is listed once, the enabled
// built-ins first.
func TestServicesListsTheWholeCatalog(t *testing.T) {
	t.Parallel()
	rows := servicesJSON(t, "--all")
	want := map[string]int{}
	for _, a := range lro.Catalog() {
		want[a.Host+" "+a.Version] = len(a.Routes)
	}
	got := map[string]int{}
	for _, r := range rows {
		got[r.Host+" "+r.Version] = len(r.Patterns)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("services --all: patterns by API version (-want +got):\n%s", diff)
	}
	var enabled []string
	for _, r := range rows {
		if r.Enabled {
			enabled = append(enabled, r.Host)
		}
	}
	if diff := cmp.Diff([]string{"vault.googleapis.com", "androidmanagement.googleapis.com"}, enabled); diff != "" || !rows[0].Enabled || !rows[1].Enabled {
		t.Errorf("enabled (-want +got):\n%s", diff)
	}
}

func TestServicesFilterAndEnabledFirst(t *testing.T) {
	t.Parallel()
	config := filepath.Join(t.TempDir(), "services.yaml")
	os.WriteFile(config, []byte("services:\n  - host: aiplatform.googleapis.com\n  - host: aiplatform-proxy.example.com\n    patterns: [\"projects/*/operations/*\"]\n"), 0o600)
	rows := servicesJSON(t, "--all", "--config="+config, "aiplatform")
	var got []string
	for _, r := range rows {
		got = append(got, r.Host+" "+r.Version+" "+map[bool]string{true: "enabled", false: "off"}[r.Enabled])
	}
	want := []string{"aiplatform.googleapis.com v1 enabled", "aiplatform-proxy.example.com v1 enabled", "aiplatform.googleapis.com v1beta1 off",
		"contactcenteraiplatform.googleapis.com v1alpha1 off"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("services --all aiplatform (-want +got):\n%s", diff)
	}
	if r := rows[0]; r.Regional["us-central1"] != "https://us-central1-aiplatform.googleapis.com" || len(r.Regional) != 48 || r.Dialect != "aip" {
		t.Errorf("aiplatform row: %d regional endpoints, us-central1 %q, dialect %s", len(r.Regional), r.Regional["us-central1"], r.Dialect)
	}
	out, _, _, err := runCLI(t, nil, "services", "--config="+config)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "HOST") || strings.Join(strings.Fields(lines[3])[:5], " ") != "aiplatform.googleapis.com v1 yes aip 48" {
		t.Errorf("services:\n%s", out)
	}
}

// TestServicesShowWhatTheFileAllows: with builtins: false only the listed
// services are enabled, and each row carries its allow list.
func TestServicesShowWhatTheFileAllows(t *testing.T) {
	t.Parallel()
	config := filepath.Join(t.TempDir(), "services.yaml")
	os.WriteFile(config, []byte("builtins: false\nservices:\n  - host: androidmanagement.googleapis.com\n    allow: [\"enterprises/LC01234/**\"]\n  - host: aiplatform.googleapis.com\n"), 0o600)
	var got [][]string
	for _, r := range servicesJSON(t, "--config="+config) {
		got = append(got, append([]string{r.Host}, r.Allow...))
	}
	want := [][]string{{"androidmanagement.googleapis.com", "enterprises/LC01234/**"}, {"aiplatform.googleapis.com"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("services --json: host and allow list (-want +got):\n%s", diff)
	}
}
