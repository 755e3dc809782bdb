package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// kitScripts are the kit's shell scripts.
func kitScripts(t *testing.T) []string {
	t.Helper()
	scripts, err := filepath.Glob(filepath.Join("*", "*.sh"))
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts under deploy/: %v", err)
	}
	return append(scripts, "build.sh")
}

// TestScriptsQuoteEveryExpansion: the kit's shell scripts quote every
// parameter expansion and command substitution, so that no value is split
// into words or expanded as a glob (a PUBLISHERS of "group:x *" must not
// become every file name in the directory).
func TestScriptsQuoteEveryExpansion(t *testing.T) {
	t.Parallel()
	for _, s := range kitScripts(t) {
		src, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range unquotedExpansions(string(src)) {
			t.Errorf("%s:%d: an expansion outside double quotes", s, line)
		}
	}
}

var (
	// guardedArray is ${a[@]+"${a[@]}"}: nothing when a is empty, every
	// element as a word otherwise, in every bash.
	guardedArray = regexp.MustCompile(`\$\{(\w+)\[@\]\+"\$\{(\w+)\[@\]\}"\}`)
	arrayWords   = regexp.MustCompile(`\$\{\w+\[@\]\}`)
	// sedNewline is a sed command line whose expression holds \n, which BSD
	// sed's replacement text takes for the letter n.
	sedNewline = regexp.MustCompile(`(^|[\s;|(])sed\s.*\\n`)
)

// TestScriptsRunOnMacOS: the kit's scripts run on bash 3.2 and BSD sed, a
// Mac's: every array is expanded as ${a[@]+"${a[@]}"} (before bash 4.4,
// "${a[@]}" of an empty array is an unbound variable under set -u, and the
// script stops), and no sed expression holds \n. Neither shell nor sed of
// a Mac runs here: the rules are checked on the scripts' text.
func TestScriptsRunOnMacOS(t *testing.T) {
	t.Parallel()
	for _, s := range kitScripts(t) {
		src, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(src), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			for _, m := range guardedArray.FindAllStringSubmatch(line, -1) {
				if m[1] != m[2] {
					t.Errorf("%s:%d: %s expands another array than it tests", s, i+1, m[0])
				}
			}
			if a := arrayWords.FindString(guardedArray.ReplaceAllString(line, "")); a != "" {
				t.Errorf("%s:%d: %s stops bash 3.2 under set -u when the array is empty; write ${a[@]+\"${a[@]}\"}", s, i+1, a)
			}
			if code, _, _ := strings.Cut(line, " #"); sedNewline.MatchString(code) {
				t.Errorf("%s:%d: \\n in a sed expression is the letter n to BSD sed: %s", s, i+1, strings.TrimSpace(line))
			}
		}
	}
}

// unquotedExpansions returns the lines of src with a $NAME, ${...}, $N or
// $(...) outside double quotes (${a[@]+"${a[@]}"} counts as quoted). It knows comments, single quotes,
// backslashes and the fresh quoting context inside "$(...)".
func unquotedExpansions(src string) []int {
	// ${a[@]+"${a[@]}"} quotes what it expands.
	src = guardedArray.ReplaceAllString(src, `"$${$1[@]}"`)
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
