// Command opcancel cancels Google API long-running operations named in
// Pub/Sub messages. Its subcommands and their flags are in `opcancel --help`
// and docs/contract.md#the-binary.
//
// Each subcommand's files carry its name (worker*.go, submit*.go,
// replay*.go, demo*.go, fakeapi*.go, services*.go, doctor*.go, version*.go;
// wait*.go follow a batch to its outcomes, for wait, submit --wait and the
// demo); what several share is named for what it provides: main.go (run
// and the parser), cli_flags.go, configfile.go (the services file of
// --config), exit.go, log.go, tracing.go, pubsub.go (the
// base of the Pub/Sub commands), confirm.go, progress.go, output.go, mix.go.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/alecthomas/kong"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func main() {
	// SIGHUP is a terminal or SSH session that went away: stop as on
	// Ctrl-C, so that submit records where it stopped and the temporary
	// subscriptions of --wait and wait are deleted.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "opcancel:", oneLine(err))
	}
	os.Exit(exitCode(err))
}

// env is what a subcommand gets from its surroundings.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// traces, if set, takes every span, whatever the environment says:
	// tests read the spans back from it (see tracing.go).
	traces *sdktrace.TracerProvider
	// resolved names the flags whose value came from their environment
	// variable: flag → variable.
	resolved map[string]string
}

// fromEnvironment is the variable that set flag, or "" when the command
// line or the default did.
func (e *env) fromEnvironment(flag string) string {
	return e.resolved[flag]
}

// quotaProjectEnv names the project billed for the API requests made with
// credentials (lro.Config.QuotaProject), as Google's client libraries read it.
const quotaProjectEnv = "GOOGLE_CLOUD_QUOTA_PROJECT"

// cli is the command line: one subcommand.
type cli struct {
	Worker   workerCmd   `cmd:"" help:"Run the daemon: cancel the operations named by the messages of one or more Pub/Sub subscriptions."`
	Submit   submitCmd   `cmd:"" help:"Publish cancel requests in bulk: names from arguments, a file, standard input, or operations.list."`
	Wait     waitCmd     `cmd:"" help:"Follow a batch to its outcomes at any time, from its start: the table and exit status of submit --wait."`
	Replay   replayCmd   `cmd:"" help:"Publish the messages of a dead-letter subscription to the worker's topic again, acking each once it is published."`
	Demo     demoCmd     `cmd:"" help:"Run everything in one process on embedded fakes (Pub/Sub and the operations APIs): no cloud, no credentials."`
	FakeAPI  fakeAPICmd  `cmd:"" name:"fake-api" help:"Serve a fake Google operations API (the demo's) for development clusters and load tests."`
	Services servicesCmd `cmd:"" help:"List the enabled services and, with --all, every API the catalog knows."`
	Doctor   doctorCmd   `cmd:"" help:"Check, before traffic, what a worker with the same flags needs: Pub/Sub resources and IAM, dead-lettering, tokens, endpoints; one line per check with its fix."`
	Version  versionCmd  `cmd:"" help:"Print the version, commit and Go version."`
}

// envVar is the environment variable of a flag: OPCANCEL_ + upper snake case.
func envVar(flag string) string {
	return "OPCANCEL_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// run parses args and runs the chosen subcommand. Every flag also reads its
// OPCANCEL_ environment variable through getenv; a flag on the command line wins.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	return runIn(ctx, args, &env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr})
}

// runIn is run in the surroundings e.
func runIn(ctx context.Context, args []string, e *env) error {
	// Receivers write to stderr too (wait's notes on a batch's manifest),
	// beside the command's own goroutine: an *os.File takes concurrent
	// writes, any other writer is serialised.
	e.stdout, e.stderr = serialised(e.stdout), serialised(e.stderr)
	var c cli
	// Kong asks to exit only after printing --help; the help is the result.
	helped := false
	parser, err := newParser(&c, e, func(int) { helped = true })
	if err != nil {
		return err
	}
	kctx, err := parser.Parse(args)
	if helped {
		return nil
	}
	if err != nil {
		return usageError{err}
	}
	kctx.BindTo(ctx, (*context.Context)(nil))
	return kctx.Run(e)
}

// serialised is w, or, unless it is an *os.File, w behind a mutex.
func serialised(w io.Writer) io.Writer {
	if _, ok := w.(*os.File); ok || w == nil {
		return w
	}
	return &lockedWriter{w: w}
}

// lockedWriter is a writer that goroutines may share.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// newParser returns the command line's parser into c: flags, their
// environment variables and defaults; exit is called after --help.
func newParser(c *cli, e *env, exit func(int)) (*kong.Kong, error) {
	envResolver := kong.ResolverFunc(func(_ *kong.Context, _ *kong.Path, flag *kong.Flag) (any, error) {
		if flag.Name == "help" {
			return nil, nil
		}
		if v := e.getenv(envVar(flag.Name)); v != "" {
			if e.resolved == nil {
				e.resolved = map[string]string{}
			}
			e.resolved[flag.Name] = envVar(flag.Name)
			return v, nil
		}
		return nil, nil
	})
	return kong.New(c,
		kong.Name("opcancel"),
		kong.Description("Cancels Google API long-running operations named in Pub/Sub messages.\n\n"+
			"Every flag also reads an environment variable: OPCANCEL_ and the flag name in upper snake case "+
			"(--max-outstanding: OPCANCEL_MAX_OUTSTANDING); a flag on the command line wins. "+
			"PUBSUB_EMULATOR_HOST selects a Pub/Sub emulator.\n\n"+
			"Exit status: 0 on a clean stop, 1 on a runtime error, 2 on a usage or configuration error; "+
			"submit --wait and wait also exit 3 when some operations may still run, and 4 when outcomes are missing at --wait-timeout; doctor exits 1 when a check fails."),
		kong.Writers(e.stdout, e.stderr),
		kong.Exit(exit),
		kong.Resolvers(envResolver),
		kong.Vars(flagDefaults()),
		kong.ValueFormatter(helpValue),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true, WrapUpperBound: 100}),
	)
}

// helpValue documents a flag's default and environment variable.
func helpValue(v *kong.Value) string {
	h := v.Help
	if v.Name == "help" || v.Flag == nil { // --help itself, and positional arguments
		return h
	}
	switch {
	case v.Tag.Required:
		return h + " [required; env " + envVar(v.Name) + "]"
	case v.Default != "":
		return h + " [default " + v.Default + "; env " + envVar(v.Name) + "]"
	default:
		return h + " [env " + envVar(v.Name) + "]"
	}
}
