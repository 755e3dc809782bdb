package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"golang.org/x/term"
)

// confirm asks question on the terminal before a bulk action (submit
// --list-parent, replay) and returns nil when the answer is y or yes; any
// other answer is an error saying that nothing was done (notDone:
// "published"). With no terminal on standard input to ask on, it is a
// usage error saying what would be done (action) and that --yes confirms it.
func confirm(e *env, action, question, notDone string) error {
	if !isTerminal(e.stdin) {
		return usagef("%s; confirm with --yes (standard input is not a terminal to ask on)", action)
	}
	fmt.Fprintf(e.stderr, "%s [y/N] ", question)
	answer, _ := bufio.NewReader(e.stdin).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
		return fmt.Errorf("not confirmed; nothing %s", notDone)
	}
	return nil
}

// isTerminal reports whether f is an *os.File on a terminal.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && term.IsTerminal(int(file.Fd()))
}
