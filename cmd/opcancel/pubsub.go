package main

import (
	"context"
	"errors"
	"strings"

	"opcancel/queue"
)

// pubsubBase is what every Pub/Sub command (worker, submit, replay) sets up,
// written once: the project that completes the IDs its flags give, the
// tracing the environment asks for, and the Pub/Sub client, traced when
// tracing is on. A command embeds it; its --project flag says what it is
// the project of through the variables project_of and full_name, which the
// command sets on the embedding (kong's set tag).
type pubsubBase struct {
	Project string `help:"Project of ${project_of} (default: $GOOGLE_CLOUD_PROJECT, or the project of a full ${full_name})."`

	// project is --project, else $GOOGLE_CLOUD_PROJECT, else the project
	// of the first full name resolved; set by resolve.
	project string
	// tracing is set by startTracing.
	tracing *tracing
}

// resolve returns the full name of kind ("topics" or "subscriptions") that
// the flag's value idOrName names, in the command's project. The first name
// resolved settles the project: a full name gives it when neither --project
// nor $GOOGLE_CLOUD_PROJECT does.
func (b *pubsubBase) resolve(e *env, kind, flag, idOrName string) (string, error) {
	if b.project == "" {
		b.project = b.Project
	}
	if b.project == "" {
		b.project = e.getenv("GOOGLE_CLOUD_PROJECT")
	}
	name, err := queue.ResourceName(b.project, kind, idOrName)
	switch {
	case errors.Is(err, queue.ErrNoProject):
		return "", usagef("%s %q: no project (set --project or GOOGLE_CLOUD_PROJECT, or give projects/PROJECT/%s/ID)", flag, idOrName, kind)
	case err != nil:
		return "", usagef("%s %w", flag, err)
	}
	if b.project == "" {
		b.project = projectOf(name)
	}
	return name, nil
}

// projectOf returns P of projects/P/kind/ID.
func projectOf(name string) string {
	parts := strings.Split(name, "/")
	if len(parts) < 2 {
		return ""
	}
	return parts[1]
}

// lastSegment is ID of projects/P/kind/ID.
func lastSegment(name string) string { return name[strings.LastIndexByte(name, '/')+1:] }

// startTracing starts the tracing e asks for (see tracing.go), which the
// client of connect then uses. The caller shuts it down.
func (b *pubsubBase) startTracing(ctx context.Context, e *env) (*tracing, error) {
	tr, err := newTracing(ctx, e)
	if err != nil {
		return nil, err
	}
	b.tracing = tr
	return tr, nil
}

// connect returns the Pub/Sub client of the project, on the emulator that
// PUBSUB_EMULATOR_HOST names if it is set (the demo's embedded Pub/Sub
// too), traced when startTracing turned tracing on.
func (b *pubsubBase) connect(ctx context.Context, e *env) (*queue.Client, error) {
	return queue.NewClient(ctx, queue.ClientConfig{
		Project:      b.project,
		EmulatorHost: e.getenv("PUBSUB_EMULATOR_HOST"),
		Tracing:      b.tracing != nil && b.tracing.on(),
	})
}

// start is startTracing then connect, for a command that needs both at
// once; stop closes the client and shuts tracing down.
func (b *pubsubBase) start(ctx context.Context, e *env) (ps *queue.Client, stop func(), err error) {
	tr, err := b.startTracing(ctx, e)
	if err != nil {
		return nil, nil, err
	}
	if ps, err = b.connect(ctx, e); err != nil {
		tr.shutdownTo(e.stderr)
		return nil, nil, err
	}
	return ps, func() {
		ps.Close()
		tr.shutdownTo(e.stderr)
	}, nil
}
