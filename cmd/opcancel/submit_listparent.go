package main

import (
	"context"
	"fmt"

	"opcancel/lro"
)

// listOperations pages through operations.list and keeps what is not done,
// after confirmation.
func (c *submitCmd) listOperations(ctx context.Context, e *env, table *lro.Table) ([]givenName, error) {
	if c.Service == "" {
		return nil, usagef("--list-parent needs --service")
	}
	svc := table.Lookup(c.Service)
	if err := svc.ValidateParent(c.ListParent); err != nil {
		return nil, usagef("--list-parent %w", err)
	}
	client, err := lro.New(ctx, table, lro.Config{Auth: c.Auth, RequestTimeout: c.RequestTimeout, UserAgent: userAgent(),
		QuotaProject: e.getenv(quotaProjectEnv)})
	if err != nil {
		return nil, err
	}
	pages, err := listAll(func(token string) (*lro.ListPage, error) {
		return client.List(ctx, svc, c.ListParent, token, 0)
	}, maxListPages)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", c.ListParent, err)
	}
	var names []givenName
	total := 0
	for _, page := range pages {
		for _, op := range page.Operations {
			total++
			if !op.Done {
				names = append(names, givenName{where: "list", text: op.Name})
			}
		}
	}
	fmt.Fprintf(e.stderr, "%s: %d operations in %d pages, %d not done\n", c.ListParent, total, len(pages), len(names))
	if len(names) == 0 || c.DryRun || c.Yes {
		return names, nil
	}
	if err := confirm(e, fmt.Sprintf("--list-parent: %d operations would be cancelled", len(names)),
		fmt.Sprintf("Cancel %d operations of %s?", len(names), c.ListParent), "published"); err != nil {
		return nil, err
	}
	return names, nil
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
