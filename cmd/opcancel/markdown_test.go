package main

import (
	"iter"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// A small reader of the Markdown the README and docs/ are written in, as
// GitHub renders it, shared by the tests that check the docs against the
// code: lines and whether a fenced code block holds them, headings and the
// anchors GitHub gives them, code spans, and tables. It reads only what
// those pages use; it is not a Markdown parser.

var (
	// heading is an ATX heading: its #s and its text.
	heading = regexp.MustCompile("^(#{1,6}) (.+)$")
	// codeSpan is a code span and what it holds.
	codeSpan = regexp.MustCompile("`([^`]+)`")
)

// markdownLines yields each line of doc and whether it is inside a fenced
// code block (the fences included).
func markdownLines(doc string) iter.Seq2[string, bool] {
	return func(yield func(string, bool) bool) {
		fenced := false
		for line := range strings.SplitSeq(doc, "\n") {
			fence := strings.HasPrefix(strings.TrimSpace(line), "```")
			if fence {
				fenced = !fenced
			}
			if !yield(line, fenced || fence) {
				return
			}
		}
	}
}

// anchor is the fragment GitHub gives a heading: lower case, spaces to
// hyphens, and of the rest only letters, marks, digits, _ and - kept.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.Pc):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// headingAnchors returns the fragments of a page's headings, as GitHub
// makes them: a heading that repeats one gets -1, -2, … after it.
func headingAnchors(doc string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	for line, fenced := range markdownLines(doc) {
		m := heading.FindStringSubmatch(line)
		if m == nil || fenced {
			continue
		}
		a := anchor(m[2])
		if n := seen[a]; n > 0 {
			anchors[a+"-"+strconv.Itoa(n)] = true
		} else {
			anchors[a] = true
		}
		seen[a]++
	}
	return anchors
}

// table is a Markdown table: its header's cells and its rows' cells.
type table struct {
	line   int // of the header, from 1
	header []string
	rows   [][]string
}

// tables returns the Markdown tables of doc outside fenced code blocks.
func tables(doc string) []table {
	var out []table
	var cur *table
	n := 0
	for line, fenced := range markdownLines(doc) {
		n++
		if fenced || !strings.HasPrefix(line, "|") {
			cur = nil
			continue
		}
		cells := tableCells(line)
		switch {
		case cur == nil:
			out = append(out, table{line: n, header: cells})
			cur = &out[len(out)-1]
		case strings.Trim(line, "|-: ") == "": // the separator row
		default:
			cur.rows = append(cur.rows, cells)
		}
	}
	return out
}

// tableCells splits a table row into its trimmed cells; a | inside a code
// span or escaped as \| does not split.
func tableCells(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(line, "|")
	line = strings.TrimSuffix(line, "|")
	var cells []string
	var cell strings.Builder
	inCode := false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '`':
			inCode = !inCode
			cell.WriteByte(c)
		case c == '\\' && i+1 < len(line) && line[i+1] == '|':
			cell.WriteByte('|')
			i++
		case c == '|' && !inCode:
			cells = append(cells, strings.TrimSpace(cell.String()))
			cell.Reset()
		default:
			cell.WriteByte(c)
		}
	}
	return append(cells, strings.TrimSpace(cell.String()))
}
