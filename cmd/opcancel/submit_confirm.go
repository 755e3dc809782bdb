package main

import (
	"context"
	"fmt"
)

// confirmPublish asks before publishing more than --confirm-above valid
// names, whatever their source (arguments, --file, standard input,
// --list-parent, a journal's list), with their count per service: those
// b publishes, without what a journal says was published before.
func (c *submitCmd) confirmPublish(ctx context.Context, e *env, sub submission, b *batchPlan) error {
	_, counts := b.routed()
	n := counts.total()
	return c.ask(ctx, e, counts,
		fmt.Sprintf("%d cancel requests (%s) would be published to %s", n, counts, sub.topic),
		fmt.Sprintf("Publish %d cancel requests (%s) to %s, batch %s?", n, counts, sub.topic, escape(sub.batch)),
		"published")
}
