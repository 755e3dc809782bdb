package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// printDemoTable prints the outcomes per service, with the expected counts
// when given, and reports whether they match.
func printDemoTable(w io.Writer, got, expected map[string]float64) bool {
	keys := map[string]bool{}
	for k := range got {
		keys[k] = true
	}
	for k := range expected {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "service\toutcome\tcount\texpected\t")
	ok := true
	var total, totalExp float64
	for _, k := range sorted {
		service, outcome, _ := strings.Cut(k, " ")
		exp := "-"
		if expected != nil {
			exp = strconv.FormatFloat(expected[k], 'f', 0, 64)
			ok = ok && got[k] == expected[k]
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t\n", escape(service), escape(outcome), got[k], exp)
		total += got[k]
		totalExp += expected[k]
	}
	fmt.Fprintf(tw, "total\t\t%.0f\t%.0f\t\n", total, totalExp)
	tw.Flush()
	if expected != nil {
		if ok {
			fmt.Fprintln(w, "every outcome is as the fake API was scripted (counts read from the result events)")
		} else {
			fmt.Fprintln(w, "MISMATCH: some outcomes differ from the script")
		}
	}
	return ok
}
