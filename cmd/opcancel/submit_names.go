package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"opcancel/lro"
	"opcancel/request"
)

// givenName is one name to submit as it was given (bare, //host/name, or
// a message's JSON), and where it was given.
type givenName struct {
	where string // "file.txt:12", "argument 3", "list"
	text  string
}

// collect gathers the names to submit: the operations of --list-parent, or
// the names of the arguments, --file and standard input.
func (c *submitCmd) collect(ctx context.Context, e *env, table *lro.Table) ([]givenName, error) {
	if c.ListParent == "" {
		return c.readNames(e)
	}
	if len(c.Names) > 0 || c.File != "" {
		return nil, usagef("--list-parent: give names or --list-parent, not both")
	}
	return c.listOperations(ctx, e, table)
}

// readNames collects names from the arguments, --file and standard input.
func (c *submitCmd) readNames(e *env) ([]givenName, error) {
	var names []givenName
	stdinUsed := false
	readFrom := func(name string, r io.Reader) error {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), request.MaxDataBytes*4)
		for n := 1; sc.Scan(); n++ {
			text := strings.TrimSpace(sc.Text())
			if text == "" || strings.HasPrefix(text, "#") {
				continue
			}
			names = append(names, givenName{where: fmt.Sprintf("%s:%d", name, n), text: text})
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
		names = append(names, givenName{where: fmt.Sprintf("argument %d", i+1), text: a})
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
	return names, nil
}
