// Package queuetest starts the official Pub/Sub emulator for tests and
// benchmarks, on a free loopback port behind a proxy that ends the streams
// of departed clients (see streamProxy), and creates topics and
// subscriptions on it.
//
// This package is internal to opcancel and is not a public API; the module is v0.
package queuetest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// ErrNotInstalled reports that the emulator binary was not found.
var ErrNotInstalled = errors.New("the Pub/Sub emulator is not installed (gcloud components install pubsub-emulator, or set OPCANCEL_PUBSUB_EMULATOR to its binary)")

// Emulator is a running emulator process.
type Emulator struct {
	// Host is host:port, the value for PUBSUB_EMULATOR_HOST: the proxy
	// in front of the emulator, for gRPC clients such as the code under test.
	Host string
	// Direct is the emulator's own host:port, for REST clients (gcloud);
	// streaming pulls made through it outlive their clients.
	Direct string
	cmd    *exec.Cmd
	done   chan struct{}
	proxy  *streamProxy
	// Client is a client connected to the emulator, for setting up resources.
	Client *pubsub.Client
}

var (
	binOnce sync.Once
	binPath string
)

// Binary returns the emulator's path: $OPCANCEL_PUBSUB_EMULATOR, or the one
// in the gcloud SDK.
func Binary() (string, error) {
	binOnce.Do(func() {
		if p := os.Getenv("OPCANCEL_PUBSUB_EMULATOR"); p != "" {
			binPath = p
			return
		}
		roots := []string{"/usr/lib/google-cloud-sdk", "/usr/share/google-cloud-sdk", "/google-cloud-sdk"}
		if out, err := exec.Command("gcloud", "info", "--format=value(installation.sdk_root)").Output(); err == nil {
			roots = append([]string{strings.TrimSpace(string(out))}, roots...)
		}
		for _, r := range roots {
			p := filepath.Join(r, "platform", "pubsub-emulator", "bin", "cloud-pubsub-emulator")
			if _, err := os.Stat(p); err == nil {
				binPath = p
				return
			}
		}
	})
	if binPath == "" {
		return "", ErrNotInstalled
	}
	return binPath, nil
}

// Start launches the emulator on a free loopback port and waits until it
// serves, until it exits (the error then holds the end of its output), or
// until ctx is done: start-up has no bound of its own, so the caller's
// context (a test's deadline) is the only one. ctx bounds the start only.
func Start(ctx context.Context) (*Emulator, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	for {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		e, err := start(ctx, bin, port)
		if !errors.Is(err, errPortTaken) {
			return e, err
		}
	}
}

// errPortTaken reports that another process took the chosen port before the
// emulator listened on it (see freePort).
var errPortTaken = errors.New("the emulator's port was taken")

func start(ctx context.Context, bin string, port int) (*Emulator, error) {
	cmd := exec.Command(bin, "--host=127.0.0.1", fmt.Sprintf("--port=%d", port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start emulator: %w", err)
	}
	e := &Emulator{Direct: fmt.Sprintf("127.0.0.1:%d", port), cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go e.watch(out, started)
	select {
	case err := <-started:
		if err != nil {
			e.Stop()
			return nil, err
		}
	case <-ctx.Done():
		e.Stop()
		return nil, fmt.Errorf("emulator start: %w", ctx.Err())
	}
	if err := e.startProxy(); err != nil {
		e.Stop()
		return nil, err
	}
	// The client outlives the start: ctx must not end it.
	c, err := pubsub.NewClient(context.WithoutCancel(ctx), "setup", ClientOptions(e.Direct)...)
	if err != nil {
		e.Stop()
		return nil, err
	}
	e.Client = c
	return e, nil
}

// watch reads the emulator's output until it says it serves (nil on
// started), that its start failed, or ends (for both, an error with the
// output's last lines), then waits for the process and closes e.done. A
// failed start does not end the process: when its port is taken, the
// emulator's main thread dies but the process lives on, serving nothing.
func (e *Emulator) watch(out io.Reader, started chan<- error) {
	sc := bufio.NewScanner(out)
	var tail []string
	for sc.Scan() {
		line := sc.Text()
		tail = append(tail, line)
		if len(tail) > 20 {
			tail = tail[1:]
		}
		if strings.Contains(line, "Server started") {
			started <- nil
			break
		}
		if strings.Contains(line, `Exception in thread "main"`) {
			break
		}
	}
	output := strings.Join(tail, "\n")
	err := fmt.Errorf("emulator failed to start:\n%s", output)
	if strings.Contains(output, "Address already in use") {
		err = fmt.Errorf("%w: %w", errPortTaken, err)
	}
	select {
	case started <- err:
	default:
	}
	io.Copy(io.Discard, out)
	e.cmd.Wait()
	close(e.done)
}

// startProxy puts the proxy in front of the emulator on a port of its own.
func (e *Emulator) startProxy() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("proxy listen: %w", err)
	}
	if e.proxy, err = startProxy(ln, e.Direct); err != nil {
		ln.Close()
		return err
	}
	e.Host = ln.Addr().String()
	return nil
}

// ClientOptions connect a client to the emulator at host without TLS or credentials.
func ClientOptions(host string) []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(host),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
		option.WithoutAuthentication(),
		option.WithTelemetryDisabled(),
	}
}

// Stop kills the emulator (its whole process group) and waits for it.
func (e *Emulator) Stop() {
	if e.Client != nil {
		e.Client.Close()
	}
	if e.proxy != nil {
		e.proxy.stop()
	}
	if e.cmd.Process != nil {
		syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
	}
	<-e.done
}

// Streams reports how many streaming pulls on the subscription sub (a full
// name) the emulator serves through Host. A client's stream counts until
// the emulator has ended it, shortly after the client has gone; until then
// the emulator may still hand it messages, which stay leased to it.
func (e *Emulator) Streams(sub string) int { return e.proxy.openStreams(sub) }

// WaitStreams waits until the emulator serves n streaming pulls on the
// subscription sub (a full name) through Host, or ctx ends. A stream
// counts once the emulator has been sent the request that opens it: the
// emulator takes it in a moment later.
func (e *Emulator) WaitStreams(ctx context.Context, sub string, n int) error {
	return e.proxy.waitStreams(ctx, sub, n)
}

// ForTest starts an emulator for t and stops it at cleanup; it skips the
// test when the emulator is not installed. The start is bounded by t's
// deadline, less a tenth of the time left for reporting the failure.
func ForTest(t testing.TB) *Emulator {
	t.Helper()
	if _, err := Binary(); err != nil {
		t.Skip(err)
	}
	ctx, cancel := untilDeadline(t)
	defer cancel()
	e, err := Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)
	return e
}

// untilDeadline is a context that ends when nine tenths of what is left
// before t's deadline (go test's -timeout) have passed, leaving the rest to
// report the failure; it does not end for a t without a deadline (a
// benchmark, or -timeout 0).
func untilDeadline(t testing.TB) (context.Context, context.CancelFunc) {
	d, ok := t.(interface{ Deadline() (time.Time, bool) })
	if !ok {
		return context.WithCancel(context.Background())
	}
	deadline, ok := d.Deadline()
	if !ok {
		return context.WithCancel(context.Background())
	}
	return context.WithTimeout(context.Background(), time.Until(deadline)*9/10)
}

// freePort picks a port for the emulator. The emulator cannot be handed a
// listener, and given --port=0 it reports "listening on 0" while opening two
// ports, so the only way to know its port is to choose it; Start tries
// another if a process takes it first. Clients never see this port: Host is the
// proxy's, listened on before it is published.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
