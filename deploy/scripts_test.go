package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScriptsQuoteEveryExpansion: the kit's shell scripts quote every
// parameter expansion and command substitution, so that no value is split
// into words or expanded as a glob (a PUBLISHERS of "group:x *" must not
// become every file name in the directory).
func TestScriptsQuoteEveryExpansion(t *testing.T) {
	t.Parallel()
	scripts, err := filepath.Glob(filepath.Join("*", "*.sh"))
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts under deploy/: %v", err)
	}
	for _, s := range append(scripts, "build.sh") {
		src, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range unquotedExpansions(string(src)) {
			t.Errorf("%s:%d: an expansion outside double quotes", s, line)
		}
	}
}

// unquotedExpansions returns the lines of src with a $NAME, ${...}, $N or
// $(...) outside double quotes. It knows comments, single quotes,
// backslashes and the fresh quoting context inside "$(...)".
func unquotedExpansions(src string) []int {
	type ctx struct {
		dq    bool
		depth int
	}
	stack := []ctx{{}}
	var lines []int
	line := 1
	for i := 0; i < len(src); i++ {
		c, top := src[i], &stack[len(stack)-1]
		switch {
		case c == '\n':
			line++
		case c == '\\':
			if i++; i < len(src) && src[i] == '\n' {
				line++
			}
		case c == '\'' && !top.dq:
			j := strings.IndexByte(src[i+1:], '\'')
			line += strings.Count(src[i:i+2+j], "\n")
			i += j + 1
		case c == '#' && !top.dq && (i == 0 || strings.ContainsRune(" \t\n;", rune(src[i-1]))):
			i += strings.IndexByte(src[i:], '\n') - 1
		case c == '"':
			top.dq = !top.dq
		case c == '$' && i+1 < len(src) && strings.ContainsRune("({_@*#?!0123456789", rune(src[i+1])) || c == '$' && i+1 < len(src) && isNameStart(src[i+1]):
			if !top.dq && (len(lines) == 0 || lines[len(lines)-1] != line) {
				lines = append(lines, line)
			}
			if src[i+1] == '(' {
				stack = append(stack, ctx{})
				i++
			}
		case c == '(' && !top.dq && len(stack) > 1:
			top.depth++
		case c == ')' && !top.dq && len(stack) > 1:
			if top.depth == 0 {
				stack = stack[:len(stack)-1]
			} else {
				top.depth--
			}
		}
	}
	return lines
}

func isNameStart(b byte) bool { return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }
