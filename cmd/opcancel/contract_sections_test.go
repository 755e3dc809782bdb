package main

import (
	"regexp"
	"strings"
	"testing"
)

// Reading docs/contract.md: each command's section, headed
// ### `opcancel NAME`, and the flags its flag tables document with their
// defaults, for TestContractDocumentsEveryFlag and
// TestFlagTablesLiveInTheContractOnly.

// commandSections returns the sections of the contract headed
// ### `opcancel NAME`, by NAME, each up to the next heading of its level or
// above (its own #### subsections included).
func commandSections(doc string) map[string]string {
	sections := map[string]string{}
	var name string
	var body []string
	flush := func() {
		if name != "" {
			sections[name] = strings.Join(body, "\n")
		}
		name, body = "", nil
	}
	for line, fenced := range markdownLines(doc) {
		if m := heading.FindStringSubmatch(line); m != nil && !fenced && len(m[1]) <= 3 {
			flush()
			if n, ok := strings.CutPrefix(m[2], "`opcancel "); ok && len(m[1]) == 3 && strings.HasSuffix(n, "`") {
				name = strings.TrimSuffix(n, "`")
			}
			continue
		}
		if name != "" {
			body = append(body, line)
		}
	}
	flush()
	return sections
}

// flagCell is the first cell of a flag row: `--name`.
var flagCell = regexp.MustCompile("^`--([a-z0-9][a-z0-9-]*)`$")

// flagRows returns the flags of the section's flag tables with the text of
// their default column.
func flagRows(t *testing.T, section string) map[string]string {
	t.Helper()
	rows := map[string]string{}
	for _, tbl := range tables(section) {
		if !isFlagTable(tbl.header) {
			continue
		}
		for _, row := range tbl.rows {
			if !strings.HasPrefix(row[0], "`-") {
				continue // a positional argument: NAME ..., FILTER
			}
			m := flagCell.FindStringSubmatch(row[0])
			if m == nil || len(row) < 2 {
				t.Errorf("docs/contract.md: a flag row that is not | `--name` | default | meaning |: %q", strings.Join(row, " | "))
				continue
			}
			if _, dup := rows[m[1]]; dup {
				t.Errorf("docs/contract.md documents --%s twice in one command's section", m[1])
			}
			rows[m[1]] = row[1]
		}
	}
	return rows
}

// isFlagTable: the table's first columns are flag and default, as the
// contract's flag tables are.
func isFlagTable(header []string) bool {
	return len(header) >= 2 && header[0] == "flag" && header[1] == "default"
}
