package main

import "fmt"

// confirmPublish asks before publishing more than --confirm-above valid
// names, whatever their source (arguments, --file, standard input,
// --list-parent), with their count per service.
func (c *submitCmd) confirmPublish(e *env, sub submission) error {
	_, counts := sub.routed()
	n := counts.total()
	return c.ask(e, counts,
		fmt.Sprintf("%d cancel requests (%s) would be published to %s", n, counts, sub.topic),
		fmt.Sprintf("Publish %d cancel requests (%s) to %s, batch %s?", n, counts, sub.topic, escape(sub.batch)),
		"published")
}
