package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/schollz/progressbar/v3"
)

// await scrapes the worker's /metrics until count outcomes are in, showing
// progress, and returns the outcome counters by "service outcome".
func (c *demoCmd) await(ctx context.Context, e *env, admin net.Addr, count int) (map[string]float64, error) {
	var bar *progressbar.ProgressBar
	if isTerminal(e.stderr) {
		bar = progressbar.NewOptions(count, progressbar.OptionSetWriter(e.stderr), progressbar.OptionSetDescription("outcomes"),
			progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
		defer bar.Finish()
	}
	deadline := time.NewTimer(c.Timeout)
	defer deadline.Stop()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	lastShown := time.Now()
	for {
		got, err := scrapeOutcomes(ctx, "http://"+admin.String()+"/metrics")
		if err != nil {
			return nil, err
		}
		done := 0.0
		for _, v := range got {
			done += v
		}
		switch {
		case bar != nil:
			bar.Set(int(done))
		case time.Since(lastShown) >= time.Second || int(done) >= count:
			fmt.Fprintf(e.stderr, "outcomes: %d/%d\n", int(done), count)
			lastShown = time.Now()
		}
		if int(done) >= count {
			return got, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			printTable(e.stdout, got, nil)
			return nil, fmt.Errorf("demo: only %d of %d outcomes after %s", int(done), count, c.Timeout)
		case <-tick.C:
		}
	}
}

// scrapeOutcomes reads opcancel_jobs_total from a /metrics endpoint.
func scrapeOutcomes(ctx context.Context, url string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", url, err)
	}
	got := map[string]float64{}
	if f, ok := fams["opcancel_jobs_total"]; ok {
		for _, m := range f.GetMetric() {
			var service, outcome string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "service":
					service = l.GetValue()
				case "outcome":
					outcome = l.GetValue()
				}
			}
			if v := m.GetCounter().GetValue(); v > 0 {
				got[service+" "+outcome] = v
			}
		}
	}
	return got, nil
}

// printTable prints the outcomes per service, with the expected counts when
// given, and reports whether they match.
func printTable(w io.Writer, got, expected map[string]float64) bool {
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
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t\n", service, outcome, got[k], exp)
		total += got[k]
		totalExp += expected[k]
	}
	fmt.Fprintf(tw, "total\t\t%.0f\t%.0f\t\n", total, totalExp)
	tw.Flush()
	if expected != nil {
		if ok {
			fmt.Fprintln(w, "every outcome is as the fake API was scripted (counts read from /metrics)")
		} else {
			fmt.Fprintln(w, "MISMATCH: some outcomes differ from the script")
		}
	}
	return ok
}
