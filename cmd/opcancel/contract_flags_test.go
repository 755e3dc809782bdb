package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// A flag's default and meaning live in --help and in docs/contract.md, and
// nowhere else (STYLE.md, "One source per fact"). TestHelpDocumentsEveryFlag
// (cli_test.go) checks the other link of the chain, from the command
// structs to --help; the tests here check --help against the contract.

const contractPath = "../../docs/contract.md"

// TestContractDocumentsEveryFlag: for every command of the parser, each
// flag its --help prints is in the command's section of docs/contract.md
// with the default --help prints, and each flag that section documents is
// one --help prints. A command without a section fails, and so does a
// section for a command that does not exist.
func TestContractDocumentsEveryFlag(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(contractPath)
	if err != nil {
		t.Fatal(err)
	}
	sections := commandSections(string(doc))
	cmds := commands(t)
	for name := range sections {
		if !slices.ContainsFunc(cmds, func(c *kong.Node) bool { return c.FullPath() == "opcancel "+name }) {
			t.Errorf("docs/contract.md has a section ### `opcancel %s`, but there is no such command", name)
		}
	}
	for _, cmd := range cmds {
		name := strings.TrimPrefix(cmd.FullPath(), "opcancel ")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			help := helpFlags(t, strings.Fields(name))
			checkParsedAllFlags(t, cmd, help)
			section, ok := sections[name]
			if !ok {
				t.Fatalf("docs/contract.md has no section ### `opcancel %s` documenting its flags", name)
			}
			documented := flagRows(t, section)
			for flag, h := range help {
				d, ok := documented[flag]
				if !ok {
					t.Errorf("--%s is in `opcancel %s --help` but not in its section of docs/contract.md", flag, name)
					continue
				}
				if problem := h.mismatch(d); problem != "" {
					t.Errorf("`opcancel %s --%s`: docs/contract.md gives the default %q, %s", name, flag, d, problem)
				}
			}
			for flag := range documented {
				if _, ok := help[flag]; !ok {
					t.Errorf("docs/contract.md documents `opcancel %s --%s`, which its --help does not print", name, flag)
				}
			}
		})
	}
}

// TestFlagTablesLiveInTheContractOnly: no other page copies a flag table,
// and the README links each command's section of the contract instead.
func TestFlagTablesLiveInTheContractOnly(t *testing.T) {
	t.Parallel()
	pages, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob("../../docs/*/*.md")
	pages = append(append(pages, more...), "../../README.md")
	for _, page := range pages {
		if filepath.Clean(page) == filepath.Clean(contractPath) {
			continue
		}
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, tbl := range tables(string(b)) {
			if isFlagTable(tbl.header) {
				t.Errorf("%s:%d: a table of flags and defaults; they live in docs/contract.md only: link its section", page, tbl.line)
			}
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range commands(t) {
		link := "docs/contract.md#" + anchor("`"+cmd.FullPath()+"`")
		if !bytes.Contains(readme, []byte("("+link+")")) {
			t.Errorf("README.md does not link the flags of `%s`: (%s)", cmd.FullPath(), link)
		}
	}
}

// readmeMaxLines is how long the README may grow: the front door (what
// opcancel is, the two set-up commands, a quick start and links), with
// the contract, design and operations in docs/.
const readmeMaxLines = 250

// TestTheREADMEStaysAFrontDoor: the README stays at most readmeMaxLines
// lines; what outgrows it belongs in a page of docs/, linked.
func TestTheREADMEStaysAFrontDoor(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(readme, []byte("\n")); n > readmeMaxLines {
		t.Errorf("README.md has %d lines, more than %d: move the detail to docs/ and link it", n, readmeMaxLines)
	}
}

// commands returns every command of the parser's model, nested ones
// included, hidden ones left out.
func commands(t *testing.T) []*kong.Node {
	t.Helper()
	var c cli
	parser, err := newParser(&c, &env{getenv: func(string) string { return "" }, stdout: io.Discard, stderr: io.Discard}, func(int) {})
	if err != nil {
		t.Fatal(err)
	}
	var cmds []*kong.Node
	var walk func(*kong.Node)
	walk = func(n *kong.Node) {
		for _, child := range n.Children {
			if child.Type == kong.CommandNode && !child.Hidden {
				cmds = append(cmds, child)
				walk(child)
			}
		}
	}
	walk(parser.Model.Node)
	if len(cmds) == 0 {
		t.Fatal("the parser has no commands")
	}
	return cmds
}

// helpFlag is one flag as --help prints it.
type helpFlag struct {
	def      string // the [default …] value; empty when none is printed
	required bool   // [required; …]
	boolean  bool   // printed without =VALUE
	text     string // the whole description, its lines joined
}

// mismatch says why doc, the default column of the contract, is not the
// default --help prints; empty when it is. A flag --help prints no default
// for is documented as required, false (a boolean), or in words ("none",
// "a free port"); a literal there must come from the flag's own help text
// (`$GOOGLE_CLOUD_PROJECT`), not be a default --help does not print.
func (h helpFlag) mismatch(doc string) string {
	switch {
	case h.def != "":
		if doc != "`"+h.def+"`" {
			return "--help prints [default " + h.def + "]: want `" + h.def + "`"
		}
	case h.required:
		if doc != "required" {
			return "--help prints [required]: want required"
		}
	case h.boolean:
		if doc != "false" {
			return "--help prints a boolean flag without a default: want false"
		}
	case doc == "required" || doc == "false":
		return "--help prints neither [required] nor a boolean flag"
	default:
		for _, lit := range codeSpan.FindAllStringSubmatch(doc, -1) {
			if !strings.Contains(h.text, lit[1]) {
				return "--help prints no default, and its help text does not mention " + lit[1]
			}
		}
	}
	return ""
}

var (
	// A flag's first line in kong's help: 2 spaces and a short flag, or
	// 6 spaces; descriptions and their continuations are indented further.
	helpFlagLine = regexp.MustCompile(`^(?:  -\w, |      )--([a-z0-9][a-z0-9-]*)(=\S+)?(?:\s+(.*))?$`)
	helpDefault  = regexp.MustCompile(`\[default (.+?); env [A-Z0-9_]+\]$`)
	helpRequired = regexp.MustCompile(`\[required; env [A-Z0-9_]+\]$`)
)

// helpFlags runs `opcancel ARGS --help` as a user would and reads its
// flags, --help itself left out.
func helpFlags(t *testing.T, args []string) map[string]helpFlag {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append(slices.Clone(args), "--help"), func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
	if err != nil {
		t.Fatalf("opcancel %s --help: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	flags := map[string]helpFlag{}
	var name string
	var h helpFlag
	var text []string
	flush := func() {
		if name != "" && name != "help" {
			h.text = strings.Join(text, " ")
			if m := helpDefault.FindStringSubmatch(h.text); m != nil {
				h.def = m[1]
			}
			h.required = helpRequired.MatchString(h.text)
			flags[name] = h
		}
		name, h, text = "", helpFlag{}, nil
	}
	inFlags := false
	for line := range strings.SplitSeq(stdout.String(), "\n") {
		switch {
		case line == "Flags:":
			inFlags = true
		case !inFlags:
		case strings.TrimSpace(line) == "":
			flush()
		case !strings.HasPrefix(line, " "): // the next block of the help
			flush()
			inFlags = false
		default:
			if m := helpFlagLine.FindStringSubmatch(line); m != nil {
				flush()
				name, h.boolean = m[1], m[2] == ""
				line = m[3]
			}
			if name == "" {
				t.Fatalf("opcancel %s --help: a line of the flags that belongs to none: %q", strings.Join(args, " "), line)
			}
			if s := strings.TrimSpace(line); s != "" {
				text = append(text, s)
			}
		}
	}
	flush()
	return flags
}

// checkParsedAllFlags: the flags read from --help are those of the
// command's model, so that none escapes the comparison with the contract.
func checkParsedAllFlags(t *testing.T, cmd *kong.Node, help map[string]helpFlag) {
	t.Helper()
	var want, got []string
	for _, f := range cmd.Flags {
		if !f.Hidden {
			want = append(want, f.Name)
		}
	}
	for name := range help {
		got = append(got, name)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("read the flags %v from `%s --help`, but the command has %v: the help's layout changed", got, cmd.FullPath(), want)
	}
}
