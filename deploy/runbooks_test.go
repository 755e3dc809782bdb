package deploy

import (
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// runbooksDir holds one page per alert, docs/runbooks/<Alert>.md, and the
// index, README.md.
var runbooksDir = filepath.Join(repoRoot, "docs", "runbooks")

// alertName is the form of every alert's name, which is also its runbook
// page's: apply-policies.sh reads a policy's display name as one word.
var alertName = regexp.MustCompile(`^Opcancel[A-Z][A-Za-z]*$`)

// policyRunbook is the runbook link that ends a policy's documentation, as
// checked in: the page's path in the repository, which apply-policies.sh
// puts under RUNBOOKS.
var policyRunbook = regexp.MustCompile(`\n\nRunbook: (\S+)$`)

// runbookBase is RUNBOOKS of deploy/base/runbooks.env: where the alerts'
// runbook links point.
func runbookBase(t *testing.T) string {
	t.Helper()
	env, err := os.ReadFile(filepath.Join("base", "runbooks.env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(env), "\n") {
		if v, ok := strings.CutPrefix(l, "RUNBOOKS="); ok {
			return v
		}
	}
	t.Fatal("runbooks.env sets no RUNBOOKS")
	return ""
}

// TestEveryAlertHasItsRunbookPage: every alert, of the PrometheusRule (so
// also the gke overlay's Rules, checkSameRules) and of the Cloud Monitoring
// policies (queue health, and those generated from the rules), has its page docs/runbooks/<Alert>.md, titled with its name,
// and links it: a rule's runbook_url is RUNBOOKS/<Alert>.md, a policy's
// documentation ends with the page's path, which apply-policies.sh puts
// under RUNBOOKS (TestApplyPoliciesIsIdempotent). Every page is an alert's,
// and the index links every page.
func TestEveryAlertHasItsRunbookPage(t *testing.T) {
	t.Parallel()
	base := runbookBase(t)
	if path.Base(base) != "runbooks" || path.Base(path.Dir(base)) != "docs" {
		t.Errorf("RUNBOOKS=%s is not a copy of docs/runbooks: the links would miss the pages", base)
	}
	links := map[string]string{} // alert → its link, RUNBOOKS/ in place of the pages' directory
	for name, r := range alertRules(ruleGroups(t)) {
		links[name] = underRunbooks(r.Annotations["runbook_url"], base+"/")
	}
	policies := policyFiles(t)
	for file, p := range generatedPolicies(t) {
		policies["alerts/"+file] = p
	}
	for file, p := range policies {
		m := policyRunbook.FindStringSubmatch(p.GetDocumentation().GetContent())
		if m == nil {
			t.Errorf("%s: the documentation does not end with \"Runbook: docs/runbooks/<Alert>.md\"", file)
			continue
		}
		links[p.GetDisplayName()] = underRunbooks(m[1], "docs/runbooks/")
	}
	if len(links) < 14 {
		t.Errorf("%d alerts, want the eleven rules and three policies at least", len(links))
	}
	pages := runbookPages(t)
	index, err := os.ReadFile(filepath.Join(runbooksDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for name, link := range links {
		if !alertName.MatchString(name) {
			t.Errorf("%q is not an alert's name (Opcancel, then words in CamelCase)", name)
		}
		if want := "RUNBOOKS/" + name + ".md"; link != want {
			t.Errorf("%s links %s, want %s (RUNBOOKS=%s)", name, link, want, base)
		}
		title, ok := pages[name]
		switch {
		case !ok:
			t.Errorf("%s has no runbook page docs/runbooks/%s.md", name, name)
		case title != "# "+name:
			t.Errorf("docs/runbooks/%s.md: title %q, want \"# %s\"", name, title, name)
		}
		if !strings.Contains(string(index), "]("+name+".md)") {
			t.Errorf("docs/runbooks/README.md does not link %s.md", name)
		}
	}
	for name := range pages {
		if _, ok := links[name]; !ok {
			t.Errorf("docs/runbooks/%s.md is the runbook of no alert", name)
		}
	}
}

// underRunbooks writes link with RUNBOOKS/ in place of dir, the pages'
// directory as the link gives it.
func underRunbooks(link, dir string) string {
	if rest, ok := strings.CutPrefix(link, dir); ok {
		return "RUNBOOKS/" + rest
	}
	return link
}

// runbookPages returns the first line (the title) of each page of
// docs/runbooks but the index, by name without .md.
func runbookPages(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(runbooksDir, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	pages := map[string]string{}
	for _, f := range files {
		if filepath.Base(f) == "README.md" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		title, _, _ := strings.Cut(string(b), "\n")
		pages[strings.TrimSuffix(filepath.Base(f), ".md")] = title
	}
	if len(pages) == 0 {
		t.Fatalf("no runbook pages in %s", runbooksDir)
	}
	return pages
}

var (
	mdLink    = regexp.MustCompile(`\]\(([^()\s]+)\)`)
	mdHeading = regexp.MustCompile(`(?m)^#{1,6} (.+)$`)
)

// TestRunbookLinksResolve: every relative link of the runbook pages and
// their index reaches a file of the repository, and a heading of it when
// it names one: an operator following a runbook mid-incident lands where it
// says.
func TestRunbookLinksResolve(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(runbooksDir, "*.md"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no runbook pages: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mdLink.FindAllStringSubmatch(string(b), -1) {
			target, anchor, _ := strings.Cut(m[1], "#")
			if strings.Contains(target, "://") {
				continue
			}
			file := f
			if target != "" {
				file = filepath.Join(runbooksDir, filepath.FromSlash(target))
			}
			doc, err := os.ReadFile(file)
			if err != nil {
				t.Errorf("%s: link %s: %v", filepath.Base(f), m[1], err)
				continue
			}
			if anchor != "" && !slices.Contains(headingAnchors(string(doc)), anchor) {
				t.Errorf("%s: link %s: %s has no such heading", filepath.Base(f), m[1], target)
			}
		}
	}
}

// headingAnchors returns the anchors a Markdown renderer makes of doc's
// headings: lower case, spaces as hyphens, other punctuation dropped.
func headingAnchors(doc string) []string {
	var out []string
	for _, m := range mdHeading.FindAllStringSubmatch(doc, -1) {
		var b strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(m[1])) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
				b.WriteRune(r)
			}
		}
		out = append(out, b.String())
	}
	return out
}

// TestRunbooksLookAtTheDoctor: the alerts a pod held in Init by the doctor
// component fires (no worker scraped, a pod not ready) tell on-call where
// the doctor says why: its container's log.
func TestRunbooksLookAtTheDoctor(t *testing.T) {
	t.Parallel()
	for _, alert := range []string{"OpcancelDown", "OpcancelNotReady"} {
		page, err := os.ReadFile(filepath.Join(runbooksDir, alert+".md"))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Join(strings.Fields(string(page)), " ")
		if !strings.Contains(text, "kubectl -n opcancel logs POD -c doctor") || !strings.Contains(text, "Init") {
			t.Errorf("docs/runbooks/%s.md does not send on-call to the doctor's log (kubectl -n opcancel logs POD -c doctor) for a pod held in Init", alert)
		}
	}
}
