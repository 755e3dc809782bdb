package main

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"

	"opcancel/queue"
	"opcancel/worker"
)

// TestConfigErrorsNameTheFlag: an invalid value of every flag that sets a
// worker.Config or queue.ReceiveConfig field is reported under the flag's
// name, with exit status 2.
func TestConfigErrorsNameTheFlag(t *testing.T) {
	t.Parallel()
	for field := range workerConfigFlags {
		_, inWorker := reflect.TypeFor[worker.Config]().FieldByName(field)
		_, inQueue := reflect.TypeFor[queue.ReceiveConfig]().FieldByName(field)
		if !inWorker && !inQueue {
			t.Errorf("workerConfigFlags maps %s, which is not a field of worker.Config or queue.ReceiveConfig", field)
		}
	}
	bad := map[string]string{
		"--concurrency":      "0",
		"--max-outstanding":  "-1",
		"--verify-timeout":   "0s",
		"--retry-budget":     "-1s",
		"--shutdown-timeout": "-2s",
		"--lease-extension":  "5s",
	}
	if len(bad) != len(workerConfigFlags) {
		t.Fatalf("%d flags tried, want one per entry of workerConfigFlags (%d)", len(bad), len(workerConfigFlags))
	}
	for flag, value := range bad {
		var out, errb bytes.Buffer
		err := run(context.Background(), []string{"worker", "--project=p", "--subscription=abc", flag + "=" + value},
			func(string) string { return "" }, strings.NewReader(""), &out, &errb)
		if code := exitCode(err); code != 2 || !strings.HasPrefix(err.Error(), flag+" "+value+": ") {
			t.Errorf("%s=%s: exit %d, %v; want exit 2 and an error that begins %q", flag, value, code, err, flag+" "+value+": ")
		}
	}
}

// TestLeaseExtensionZeroIsRefused: --lease-extension 0s is out of Pub/Sub's
// limits like any other value below 10s, not a way to ask for the default
// (0 means the default only to queue.ReceiveConfig's callers).
func TestLeaseExtensionZeroIsRefused(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--lease-extension=0s"}, {"--lease-extension=0"}} {
		var out, errb bytes.Buffer
		err := run(context.Background(), append([]string{"worker", "--project=p", "--subscription=abc"}, args...),
			func(string) string { return "" }, strings.NewReader(""), &out, &errb)
		if code := exitCode(err); code != 2 || !strings.HasPrefix(err.Error(), "--lease-extension 0s: ") || !strings.Contains(err.Error(), "10s to 10m") {
			t.Errorf("%v: exit %d, %v; want exit 2 and an error naming --lease-extension 0s and its limits", args, code, err)
		}
	}
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"worker", "--project=p", "--subscription=abc"},
		func(k string) string { return map[string]string{"OPCANCEL_LEASE_EXTENSION": "0s"}[k] }, strings.NewReader(""), &out, &errb)
	if code := exitCode(err); code != 2 || !strings.HasPrefix(err.Error(), "--lease-extension 0s: ") {
		t.Errorf("OPCANCEL_LEASE_EXTENSION=0s: exit %d, %v; want exit 2 naming --lease-extension", code, err)
	}
}

// TestSeveralSubscriptions: --subscription repeated, or OPCANCEL_SUBSCRIPTION
// with commas, names the partitions; each gets an equal part of
// --max-outstanding as its flow-control limit. The same subscription twice,
// or fewer places than subscriptions, is a usage error.
func TestSeveralSubscriptions(t *testing.T) {
	t.Parallel()
	setup := func(vars map[string]string, args ...string) (*workerSetup, error) {
		e := &env{getenv: getenvFrom(vars), stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
		var c cli
		parser, err := newParser(&c, e, func(int) {})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parser.Parse(append([]string{"worker", "--project=p"}, args...)); err != nil {
			return nil, usageError{err}
		}
		return c.Worker.setup(e)
	}
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"repeated", nil, []string{"--subscription=a-1", "--subscription=projects/q/subscriptions/b-1", "--max-outstanding=9"},
			[]string{"projects/p/subscriptions/a-1", "projects/q/subscriptions/b-1"}},
		{"environment", map[string]string{"OPCANCEL_SUBSCRIPTION": "a-1,b-1, c-1", "OPCANCEL_MAX_OUTSTANDING": "9"}, nil,
			[]string{"projects/p/subscriptions/a-1", "projects/p/subscriptions/b-1", "projects/p/subscriptions/c-1"}},
	} {
		s, err := setup(tt.env, tt.args...)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !reflect.DeepEqual(s.subscriptions, tt.want) {
			t.Errorf("%s: subscriptions %v, want %v", tt.name, s.subscriptions, tt.want)
		}
		for _, r := range s.receive {
			if r.MaxOutstanding != 9/len(tt.want) {
				t.Errorf("%s: %s holds %d, want %d (9 ÷ %d)", tt.name, r.Subscription, r.MaxOutstanding, 9/len(tt.want), len(tt.want))
			}
		}
	}
	for _, tt := range []struct {
		args []string
		says string
	}{
		{[]string{"--subscription=a-1,projects/p/subscriptions/a-1"}, "--subscription projects/p/subscriptions/a-1: given twice"},
		{[]string{"--subscription=a-1,b-1,c-1", "--max-outstanding=2"}, "--max-outstanding 2: must be at least the number of subscriptions (3)"},
	} {
		_, err := setup(nil, tt.args...)
		if code := exitCode(err); code != 2 || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%v: exit %d, %v; want exit 2 saying %q", tt.args, code, err, tt.says)
		}
	}
}
