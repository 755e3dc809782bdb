package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"opcancel/lro"
)

// listOperations pages through operations.list of --list-parent, with
// --filter, and keeps the operations not done that --older-than and
// --newer-than select.
func (c *submitCmd) listOperations(ctx context.Context, e *env, table *lro.Table) ([]givenName, error) {
	if c.Service == "" {
		return nil, usagef("--list-parent needs --service")
	}
	svc := table.Lookup(c.Service)
	if err := svc.ValidateParent(c.ListParent); err != nil {
		return nil, usagef("--list-parent %w", err)
	}
	if err := svc.AllowedParent(c.ListParent); err != nil {
		return nil, usagef("--list-parent: %w", err)
	}
	if c.Filter != "" && !svc.Dialect.Filterable() {
		return nil, usagef("--filter: the operations.list of %s (%s dialect) takes no filter; select with --older-than and --newer-than", svc.Host, svc.Dialect)
	}
	client, err := c.apiClient(ctx, e, table)
	if err != nil {
		return nil, err
	}
	pages, err := listAll(func(token string) (*lro.ListPage, error) {
		return client.List(ctx, svc, c.ListParent, lro.ListQuery{PageToken: token, Filter: c.Filter})
	}, maxListPages)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", c.ListParent, err)
	}
	age := c.ageWindow(time.Now())
	var names []givenName
	total, notDone, undated := 0, 0, 0
	for _, page := range pages {
		for _, op := range page.Operations {
			// A listed name is a name, never a message (one that starts
			// with "{" would be read as JSON with a batch and reason of
			// its own), and one of the collection listed.
			if !strings.HasPrefix(op.Name, c.ListParent+"/") {
				return nil, fmt.Errorf("list %s: the API answered an operation named %q, which is not under %s/; nothing published",
					c.ListParent, lro.Clip(op.Name, 256), c.ListParent)
			}
			total++
			if op.Done {
				continue
			}
			notDone++
			switch {
			case !age.on():
			case op.Created.IsZero():
				undated++
				continue
			case !age.keeps(op.Created):
				continue
			}
			names = append(names, givenName{where: "list", text: "//" + svc.Host + "/" + op.Name})
		}
	}
	line := fmt.Sprintf("%s: %d operations in %d pages, %d not done", c.ListParent, total, len(pages), notDone)
	if age.on() {
		line += fmt.Sprintf(", %d of them created %s", len(names), age)
	}
	fmt.Fprintln(e.stderr, escape(line))
	if undated > 0 {
		return nil, usagef("%s: %d of the %d operations not done report no creation time (%s puts none where opcancel reads it: "+
			"docs/contract.md#requests); nothing published; select them with --filter instead", age.flags(), undated, notDone, svc.Host)
	}
	return names, nil
}

// apiClient is the operations API client of --list-parent and --show.
func (c *submitCmd) apiClient(ctx context.Context, e *env, table *lro.Table) (*lro.Client, error) {
	return lro.New(ctx, table, lro.Config{Auth: c.Auth, RequestTimeout: c.RequestTimeout, UserAgent: userAgent(),
		QuotaProject: e.getenv(quotaProjectEnv)})
}

// validateSelection checks --filter, --older-than, --newer-than and
// --show; every error is a usage error naming the bad value.
func (c *submitCmd) validateSelection() error {
	if c.ListParent == "" {
		for _, f := range []struct {
			flag  string
			given bool
		}{{"--filter", c.Filter != ""}, {"--older-than", c.OlderThan != 0}, {"--newer-than", c.NewerThan != 0}} {
			if f.given {
				return usagef("%s selects among the operations of --list-parent; give --list-parent", f.flag)
			}
		}
	}
	if err := lro.ValidateFilter(c.Filter); err != nil {
		return usagef("--filter: %w", err)
	}
	switch {
	case c.OlderThan < 0:
		return usagef("--older-than %s: must be positive", c.OlderThan)
	case c.NewerThan < 0:
		return usagef("--newer-than %s: must be positive", c.NewerThan)
	case c.OlderThan > 0 && c.NewerThan > 0 && c.OlderThan >= c.NewerThan:
		o, n := shortDuration(c.OlderThan), shortDuration(c.NewerThan)
		return usagef("--older-than %s and --newer-than %s select nothing: no operation was created both more than %s ago and within the last %s", o, n, o, n)
	case c.Show && !c.DryRun:
		return usagef("--show: only with --dry-run (it reads the operations a batch would cancel, and publishes nothing)")
	}
	return c.confirmation.validate()
}

// ageWindow is the creation times --older-than and --newer-than select,
// from now.
func (c *submitCmd) ageWindow(now time.Time) ageWindow {
	return ageWindow{olderThan: c.OlderThan, newerThan: c.NewerThan, now: now}
}

// ageWindow selects operations by creation time: created before
// now-olderThan and after now-newerThan (a zero bound is none).
type ageWindow struct {
	olderThan, newerThan time.Duration
	now                  time.Time
}

func (a ageWindow) on() bool { return a.olderThan > 0 || a.newerThan > 0 }

func (a ageWindow) keeps(created time.Time) bool {
	if a.olderThan > 0 && !created.Before(a.now.Add(-a.olderThan)) {
		return false
	}
	return a.newerThan <= 0 || created.After(a.now.Add(-a.newerThan))
}

// String says what the window keeps: "more than 2h ago".
func (a ageWindow) String() string {
	switch {
	case a.olderThan > 0 && a.newerThan > 0:
		return fmt.Sprintf("between %s and %s ago", shortDuration(a.newerThan), shortDuration(a.olderThan))
	case a.olderThan > 0:
		return fmt.Sprintf("more than %s ago", shortDuration(a.olderThan))
	default:
		return fmt.Sprintf("within the last %s", shortDuration(a.newerThan))
	}
}

// flags names the flags that set the window.
func (a ageWindow) flags() string {
	switch {
	case a.olderThan > 0 && a.newerThan > 0:
		return "--older-than and --newer-than"
	case a.olderThan > 0:
		return "--older-than"
	default:
		return "--newer-than"
	}
}

// maxListPages bounds --list-parent's paging: at the usual 50 to 100
// operations a page, half a million or more.
const maxListPages = 10000

// listAll pages through a list with list(token) until a page has no next
// token. A token that comes back (an API whose paging loops, A → B → A)
// and more than maxPages pages are errors: nothing is submitted from a
// listing that cannot be trusted to be whole.
func listAll(list func(token string) (*lro.ListPage, error), maxPages int) ([]*lro.ListPage, error) {
	var pages []*lro.ListPage
	seen := map[string]int{} // page token → the page it asks for
	token := ""
	for {
		if len(pages) == maxPages {
			return nil, fmt.Errorf("more than %d pages; nothing published (list a narrower parent)", maxPages)
		}
		page, err := list(token)
		if err != nil {
			return nil, fmt.Errorf("page %d: %w", len(pages)+1, err)
		}
		pages = append(pages, page)
		token = page.NextPageToken
		if token == "" {
			return pages, nil
		}
		if p, ok := seen[token]; ok {
			return nil, fmt.Errorf("page %d leads back to page %d (page token %q): the API's paging loops; nothing published", len(pages), p, token)
		}
		seen[token] = len(pages) + 1
	}
}
