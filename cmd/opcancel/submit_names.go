package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"opcancel/lro"
	"opcancel/request"
)

// line is one name to submit and where it came from.
type line struct {
	where string // "file.txt:12", "argument 3", "list"
	text  string
}

// collect gathers the names to submit: the operations of --list-parent, or
// the names of the arguments, --file and standard input.
func (c *submitCmd) collect(ctx context.Context, e *env, table *lro.Table) ([]line, error) {
	if c.ListParent == "" {
		return c.readNames(e)
	}
	if len(c.Names) > 0 || c.File != "" {
		return nil, usagef("--list-parent: give names or --list-parent, not both")
	}
	return c.listOperations(ctx, e, table)
}

// readNames collects names from the arguments, --file and standard input.
func (c *submitCmd) readNames(e *env) ([]line, error) {
	var lines []line
	stdinUsed := false
	readFrom := func(name string, r io.Reader) error {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), request.MaxDataBytes*4)
		for n := 1; sc.Scan(); n++ {
			text := strings.TrimSpace(sc.Text())
			if text == "" || strings.HasPrefix(text, "#") {
				continue
			}
			lines = append(lines, line{where: fmt.Sprintf("%s:%d", name, n), text: text})
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		return nil
	}
	stdin := func() error {
		if stdinUsed {
			return nil
		}
		stdinUsed = true
		return readFrom("stdin", e.stdin)
	}
	for i, a := range c.Names {
		if a == "-" {
			if err := stdin(); err != nil {
				return nil, err
			}
			continue
		}
		lines = append(lines, line{where: fmt.Sprintf("argument %d", i+1), text: a})
	}
	switch c.File {
	case "":
	case "-":
		if err := stdin(); err != nil {
			return nil, err
		}
	default:
		f, err := os.Open(c.File)
		if err != nil {
			return nil, usagef("--file: %w", err)
		}
		defer f.Close()
		if err := readFrom(c.File, f); err != nil {
			return nil, err
		}
	}
	if len(c.Names) == 0 && c.File == "" {
		return nil, usagef("no names: give them as arguments, with --file PATH, on standard input (-), or use --list-parent")
	}
	return lines, nil
}

// listOperations pages through operations.list and keeps what is not done,
// after confirmation.
func (c *submitCmd) listOperations(ctx context.Context, e *env, table *lro.Table) ([]line, error) {
	if c.Service == "" {
		return nil, usagef("--list-parent needs --service")
	}
	svc := table.Lookup(c.Service)
	if err := svc.ValidateParent(c.ListParent); err != nil {
		return nil, usagef("--list-parent %w", err)
	}
	client, err := lro.New(ctx, table, lro.Config{Auth: c.Auth, RequestTimeout: c.RequestTimeout, UserAgent: userAgent()})
	if err != nil {
		return nil, err
	}
	pages, err := listAll(func(token string) (*lro.ListPage, error) {
		return client.List(ctx, svc, c.ListParent, token, 0)
	}, maxListPages)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", c.ListParent, err)
	}
	var lines []line
	total := 0
	for _, page := range pages {
		for _, op := range page.Operations {
			total++
			if !op.Done {
				lines = append(lines, line{where: "list", text: op.Name})
			}
		}
	}
	fmt.Fprintf(e.stderr, "%s: %d operations in %d pages, %d not done\n", c.ListParent, total, len(pages), len(lines))
	if len(lines) == 0 || c.DryRun || c.Yes {
		return lines, nil
	}
	if !isTerminal(e.stdin) {
		return nil, usagef("--list-parent: %d operations would be cancelled; confirm with --yes (standard input is not a terminal to ask on)", len(lines))
	}
	fmt.Fprintf(e.stderr, "Cancel %d operations of %s? [y/N] ", len(lines), c.ListParent)
	answer, _ := bufio.NewReader(e.stdin).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
		return nil, errors.New("not confirmed; nothing published")
	}
	return lines, nil
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
