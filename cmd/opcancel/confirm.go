package main

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"golang.org/x/term"

	"opcancel/lro"
)

// confirmation is the question every bulk command (submit, replay) asks
// before publishing more than --confirm-above messages, whatever their
// source: the flags, written once, and the one way of asking.
type confirmation struct {
	ConfirmAbove int  `default:"1000" help:"Ask on the terminal before publishing more than this many messages, with their count per service (0: always ask); without a terminal to ask on, refuse (exit 2) unless --yes."`
	Yes          bool `help:"Do not ask: publish however many messages there are (see --confirm-above)."`
}

// validate checks the flags.
func (c confirmation) validate() error {
	if c.ConfirmAbove < 0 {
		return usagef("--confirm-above %d: must be 0 (always ask) or more", c.ConfirmAbove)
	}
	return nil
}

// ask asks whether to go on with a bulk action on the messages counted
// per service in counts, when there are more than --confirm-above of them
// and --yes was not given; nil means go on. would says what would be done
// ("2000 cancel requests (…) would be published to T"), question asks it
// ("Publish 2000 cancel requests (…) to T?"), and notDone says what was
// not done when the answer is no ("published"). A question skipped by
// OPCANCEL_YES or OPCANCEL_CONFIRM_ABOVE, set in the environment rather
// than on the command line, is said on stderr: an export left in a shell
// must not skip it silently.
func (c confirmation) ask(ctx context.Context, e *env, counts serviceCounts, would, question, notDone string) error {
	n := counts.total()
	switch {
	case n <= c.ConfirmAbove:
		if v := e.fromEnvironment("confirm-above"); v != "" && n > 0 {
			fmt.Fprintf(e.stderr, "no confirmation asked: %d messages, not more than --confirm-above %d, set by %s\n", n, c.ConfirmAbove, v)
		}
		return nil
	case c.Yes:
		if v := e.fromEnvironment("yes"); v != "" {
			fmt.Fprintf(e.stderr, "confirmation skipped by %s: %d messages, more than --confirm-above %d\n", v, n, c.ConfirmAbove)
		}
		return nil
	}
	return confirm(ctx, e, fmt.Sprintf("%s, more than --confirm-above %d", would, c.ConfirmAbove), question, notDone)
}

// confirm asks question on the terminal and returns nil when the answer is
// y or yes; any other answer is an error saying that nothing was done
// (notDone: "published"), and so is ctx ending while it waits (Ctrl-C at
// the question). With no terminal on standard input to ask on, it is a
// usage error saying what would be done (action) and that --yes confirms
// it.
func confirm(ctx context.Context, e *env, action, question, notDone string) error {
	if !isTerminal(e.stdin) {
		return usagef("%s; confirm with --yes (standard input is not a terminal to ask on)", action)
	}
	fmt.Fprintf(e.stderr, "%s [y/N] ", question)
	answer, err := readAnswer(ctx, e.stdin)
	if err != nil {
		fmt.Fprintln(e.stderr)
		return fmt.Errorf("not confirmed; nothing %s: %w", notDone, err)
	}
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
		return fmt.Errorf("not confirmed; nothing %s", notDone)
	}
	return nil
}

// readAnswer reads a line from r, or returns ctx's error when ctx ends
// first. A read from a terminal cannot be cancelled: the goroutine that
// reads ends with the line, or with the input's end, which the process's
// exit brings.
func readAnswer(ctx context.Context, r io.Reader) (string, error) {
	answer := make(chan string, 1) // the reader never blocks on a question given up
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		answer <- line
	}()
	select {
	case line := <-answer:
		return line, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// isTerminal reports whether f is an *os.File on a terminal.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && term.IsTerminal(int(file.Fd()))
}

// serviceCounts counts messages per service host ("unknown" for a message
// that names no service opcancel can tell).
type serviceCounts map[string]int

func (s serviceCounts) total() int {
	n := 0
	for _, c := range s {
		n += c
	}
	return n
}

// String is "vault.googleapis.com 1200, androidmanagement.googleapis.com
// 300": the largest first. A dead letter's host is read from the message,
// so hosts are escaped and cut, and at most maxCountedHosts are named, the
// others counted together: the line stays a line whatever the dead
// letters say.
func (s serviceCounts) String() string {
	hosts := make([]string, 0, len(s))
	for h := range s {
		hosts = append(hosts, h)
	}
	slices.SortFunc(hosts, func(a, b string) int { return cmp.Or(s[b]-s[a], strings.Compare(a, b)) })
	parts := make([]string, 0, min(len(hosts), maxCountedHosts+1))
	for i, h := range hosts {
		if i == maxCountedHosts {
			rest := serviceCounts{}
			for _, h := range hosts[i:] {
				rest[h] = s[h]
			}
			parts = append(parts, fmt.Sprintf("%d other services %d", len(rest), rest.total()))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %d", lro.Clip(escape(h), maxHostBytes), s[h]))
	}
	return strings.Join(parts, ", ")
}

// maxCountedHosts bounds the hosts serviceCounts.String names; each is cut
// after maxHostBytes, as a DNS name.
const maxCountedHosts = 8
