package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"opcancel/lro"
)

// servicesCmd is `opcancel services`: the enabled services and the catalog.
type servicesCmd struct {
	Filter string `arg:"" optional:"" help:"Show only the APIs whose host contains this text."`
	Config string `help:"YAML services file; the services it enables are listed as enabled." type:"path"`
	All    bool   `help:"List every API version of the catalog, not only the enabled services."`
	JSON   bool   `name:"json" help:"Print a JSON array with every pattern, scope and regional endpoint."`
}

// serviceRow is one line of the listing: an enabled service or an API
// version of the catalog (see docs/contract.md#opcancel-services).
type serviceRow struct {
	Host     string            `json:"host"`
	Version  string            `json:"version"`
	Enabled  bool              `json:"enabled"`
	Dialect  string            `json:"dialect"`
	Endpoint string            `json:"endpoint"`
	Patterns []string          `json:"patterns"`
	Scopes   []string          `json:"scopes"`
	Regional map[string]string `json:"regionalEndpoints"`
	// Unverifiable are the patterns whose operations the API cannot read.
	Unverifiable []string `json:"unverifiable"`
	// Allow is the service's allow list; empty: every name of its patterns.
	Allow []string `json:"allow"`
}

func (c *servicesCmd) Run(_ context.Context, e *env) error {
	table, err := loadServicesFile(c.Config, "")
	if err != nil {
		return err
	}
	rows := c.rows(table)
	if c.JSON {
		err = writeJSON(e.stdout, rows)
	} else {
		err = printServices(e.stdout, rows)
	}
	if c.All {
		fmt.Fprintf(e.stderr, "catalog: %d API versions from the discovery documents of %s\n", len(lro.Catalog()), lro.CatalogSource())
	}
	return err
}

// rows lists the enabled services in routing order, then, with --all, the
// catalog's other API versions by host and version; --filter keeps the
// hosts that contain it.
func (c *servicesCmd) rows(table *lro.Table) []serviceRow {
	rows := []serviceRow{}
	enabled := map[string]bool{}
	for _, s := range table.Services() {
		enabled[s.Host+" "+s.Version] = true
		if strings.Contains(s.Host, c.Filter) {
			rows = append(rows, rowOf(s, true))
		}
	}
	if !c.All {
		return rows
	}
	for _, a := range lro.Catalog() {
		if !enabled[a.Host+" "+a.Version] && strings.Contains(a.Host, c.Filter) {
			rows = append(rows, rowOf(lro.ServiceOf(a), false))
		}
	}
	return rows
}

func rowOf(s *lro.Service, enabled bool) serviceRow {
	r := serviceRow{
		Host: s.Host, Version: s.Version, Enabled: enabled, Dialect: s.Dialect.String(),
		Endpoint: s.Endpoint.String(), Patterns: s.Patterns(), Scopes: s.Scopes,
		Regional: map[string]string{}, Unverifiable: []string{}, Allow: []string{},
	}
	for _, t := range s.Allow {
		r.Allow = append(r.Allow, t.String())
	}
	for loc, u := range s.Regional {
		r.Regional[loc] = u.String()
	}
	for _, rt := range s.Routes {
		if rt.NoGet {
			r.Unverifiable = append(r.Unverifiable, rt.Pattern.String())
		}
	}
	return r
}

// printServices writes the rows as a table; the patterns column shows how
// many there are and the first.
func printServices(w io.Writer, rows []serviceRow) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tVERSION\tENABLED\tDIALECT\tENDPOINTS\tPATTERNS")
	for _, r := range rows {
		enabled := "no"
		if r.Enabled {
			enabled = "yes"
		}
		patterns := strconv.Itoa(len(r.Patterns))
		if len(r.Patterns) > 0 {
			patterns += " " + r.Patterns[0]
			if len(r.Patterns) > 1 {
				patterns += " …"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", escape(r.Host), escape(r.Version), enabled, escape(r.Dialect), len(r.Regional), escape(patterns))
	}
	return tw.Flush()
}
