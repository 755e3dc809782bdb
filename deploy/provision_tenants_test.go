package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// tenantRecipe is the provisioning command of docs/operations.md#one-deployment-per-tenant,
// as variables: the first sh block of that section.
func tenantRecipe(t *testing.T) map[string]string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "### One deployment per tenant\n")
	if !ok {
		t.Fatal("docs/operations.md has no section One deployment per tenant")
	}
	block := regexp.MustCompile("(?s)```sh\n(.*?)```").FindStringSubmatch(section)
	if block == nil {
		t.Fatal("the section One deployment per tenant has no sh block")
	}
	vars := map[string]string{}
	for _, word := range strings.Fields(strings.ReplaceAll(block[1], "\\\n", " ")) {
		if k, v, ok := strings.Cut(word, "="); ok {
			vars[k] = v
		} else if word != "deploy/pubsub/provision.sh" {
			t.Fatalf("the recipe runs %q, want deploy/pubsub/provision.sh with variables", word)
		}
	}
	return vars
}

// TestProvisioningKeepsTenantsApart: the recipe of one deployment per
// tenant, run for two teams as the docs say (one run per team), gives no
// member of one team any right on the other team's topics and
// subscriptions: above all, neither team's wait users may publish to or
// read the other's batches topic, where manifests end batches.
func TestProvisioningKeepsTenantsApart(t *testing.T) {
	t.Parallel()
	recipe := tenantRecipe(t)
	fakeEnv, state := fakeGcloudPath(t)
	teams := map[string]map[string]string{}
	for _, team := range []string{"team-a", "team-b"} {
		vars := map[string]string{}
		var env []string
		for k, v := range recipe {
			vars[k] = strings.ReplaceAll(v, "team-a", team)
			env = append(env, k+"="+vars[k])
		}
		if out, err := provisionIAM(t, fakeEnv, env...); err != nil {
			t.Fatalf("the recipe for %s: %v\n%s", team, err, out)
		}
		teams[team] = vars
	}
	s, err := readGcloudState(state)
	if err != nil {
		t.Fatal(err)
	}
	p := newPolicy(t, s)
	// Where each team's members hold a role; no resource may be in both.
	held := map[string]map[string][]string{} // team → resource → members
	for team, vars := range teams {
		members := []string{"serviceAccount:" + vars["WORKER_SA"]}
		for _, k := range []string{"PUBLISHERS", "WAIT_USERS", "REPLAY_OPERATORS"} {
			members = append(members, strings.Fields(vars[k])...)
		}
		held[team] = map[string][]string{}
		for _, b := range p.bindings {
			if slices.Contains(members, b.Member) {
				held[team][b.Resource] = append(held[team][b.Resource], b.Member)
			}
		}
	}
	for r, a := range held["team-a"] {
		if b, ok := held["team-b"][r]; ok {
			t.Errorf("%s is both teams': team-a's %v and team-b's %v hold roles on it", r, a, b)
		}
	}
}

// TestProvisioningRefusesASecondDeploymentOnSharedTopics: a deployment of
// its own request topic that leaves a topic of the results, the batches or
// the dead letters at its default would share it with the first
// deployment: the script stops before doing anything, naming them.
func TestProvisioningRefusesASecondDeploymentOnSharedTopics(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		env  []string
		want string
	}{
		{[]string{"TOPIC=team-b-requests", "RESULTS_TOPIC=team-b-results", "DEAD_LETTER_TOPIC=team-b-dead-letter"}, "BATCHES_TOPIC"},
		{[]string{"TOPIC=team-b-requests"}, "RESULTS_TOPIC BATCHES_TOPIC DEAD_LETTER_TOPIC"},
		{[]string{"TOPIC=team-b-requests", "BATCHES_TOPIC=opcancel-batches", "RESULTS_TOPIC=team-b-results", "DEAD_LETTER_TOPIC=team-b-dead-letter"}, "BATCHES_TOPIC"},
	} {
		fakeEnv, state := fakeGcloudPath(t)
		out, err := provisionIAM(t, fakeEnv, tt.env...)
		if err == nil || !strings.Contains(out, "share the first deployment's "+tt.want) {
			t.Errorf("%v: %v\n%s\nwant a refusal naming %s", tt.env, err, out, tt.want)
		}
		if s, err := readGcloudState(state); err != nil || len(s.Calls) > 0 {
			t.Errorf("%v: gcloud was called: %v %v", tt.env, s.Calls, err)
		}
	}
}
