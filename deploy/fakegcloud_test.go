package deploy

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A fake gcloud for the provisioning script's IAM steps, which no emulator
// has: the test binary itself, run as gcloud through a wrapper on PATH
// (TestMain hands it the arguments). It keeps Pub/Sub resources, custom
// roles and IAM bindings in a state file, answers describe commands from
// it as gcloud does (NOT_FOUND on stderr, status 1), refuses what gcloud
// would refuse (creating what exists, binding on what does not), and
// records every call. An unknown command fails, so the script cannot do
// something the test does not see.

// fakeGcloudEnv names the state file of the fake; TestMain runs the fake
// when it is set.
const fakeGcloudEnv = "OPCANCEL_FAKE_GCLOUD_STATE"

// gcloudState is what the fake keeps between calls.
type gcloudState struct {
	Topics        map[string]bool      // full names
	Subscriptions map[string]string    // full name → its topic's full name
	Retention     map[string]string    // topic's full name → its --message-retention-duration
	Filters       map[string]string    // full name → its filter, if any
	Roles         map[string]*fakeRole // projects/P/roles/R
	Bindings      map[string]bool      // iamBinding.key()
	Calls         [][]string           // the command words of each call, flags left out
}

type fakeRole struct {
	Permissions []string
	Deleted     bool
}

// iamBinding is one member's role on one resource (a full name:
// projects/P, projects/P/topics/T or projects/P/subscriptions/S).
type iamBinding struct {
	Resource, Member, Role string
}

func (b iamBinding) key() string { return b.Resource + "\x00" + b.Member + "\x00" + b.Role }

func bindingOf(key string) iamBinding {
	p := strings.SplitN(key, "\x00", 3)
	return iamBinding{p[0], p[1], p[2]}
}

// fakeGcloudPath makes the wrapper and returns the PATH and state
// variables that put the fake in the script's way, and the state file.
func fakeGcloudPath(t *testing.T) (env []string, state string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// The race detector's pause at exit (a second by default) would
	// otherwise be paid on every call.
	wrapper := "#!/bin/sh\nGORACE=atexit_sleep_ms=0 exec '" + exe + "' \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "gcloud"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	state = filepath.Join(dir, "state.json")
	return []string{"PATH=" + dir + string(os.PathListSeparator) + os.Getenv("PATH"), fakeGcloudEnv + "=" + state}, state
}

func readGcloudState(path string) (*gcloudState, error) {
	s := &gcloudState{}
	b, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(b, s)
	} else if os.IsNotExist(err) {
		err = nil
	}
	if s.Topics == nil {
		s.Topics = map[string]bool{}
	}
	if s.Subscriptions == nil {
		s.Subscriptions = map[string]string{}
	}
	if s.Retention == nil {
		s.Retention = map[string]string{}
	}
	if s.Roles == nil {
		s.Roles = map[string]*fakeRole{}
	}
	if s.Bindings == nil {
		s.Bindings = map[string]bool{}
	}
	return s, err
}

// bindings lists the state's bindings.
func (s *gcloudState) bindings() []iamBinding {
	var out []iamBinding
	for k := range s.Bindings {
		out = append(out, bindingOf(k))
	}
	return out
}

// fakeGcloud runs one gcloud command against the state file and returns
// its exit status.
func fakeGcloud(statePath string, args []string, stdout, stderr io.Writer) int {
	s, err := readGcloudState(statePath)
	if err != nil {
		fmt.Fprintln(stderr, "fake gcloud:", err)
		return 3
	}
	var words []string
	flags := map[string]string{}
	for _, a := range args {
		if k, ok := strings.CutPrefix(a, "--"); ok {
			k, v, _ := strings.Cut(k, "=")
			flags[k] = v
		} else {
			words = append(words, a)
		}
	}
	s.Calls = append(s.Calls, words)
	code := s.run(words, flags, stdout, stderr)
	b, err := json.Marshal(s)
	if err == nil {
		err = os.WriteFile(statePath, b, 0o600)
	}
	if err != nil {
		fmt.Fprintln(stderr, "fake gcloud:", err)
		return 3
	}
	return code
}

func (s *gcloudState) run(words []string, flags map[string]string, stdout, stderr io.Writer) int {
	project := flags["project"]
	notFound := func(what string) int {
		fmt.Fprintf(stderr, "ERROR: (gcloud.%s) NOT_FOUND: %s not found\n", strings.Join(words[:len(words)-1], "."), what)
		return 1
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "ERROR: (gcloud.%s) "+format+"\n", append([]any{strings.Join(words, ".")}, a...)...)
		return 1
	}
	if len(words) < 3 {
		return fail("fake gcloud: unexpected command %q", words)
	}
	full := func(kind, id string) string {
		if strings.HasPrefix(id, "projects/") {
			return id
		}
		return "projects/" + project + "/" + kind + "/" + id
	}
	name := words[len(words)-1]
	switch cmd := strings.Join(words[:len(words)-1], " "); cmd {
	case "pubsub topics describe":
		if !s.Topics[full("topics", name)] {
			return notFound(full("topics", name))
		}
		fmt.Fprintln(stdout, full("topics", name))
	case "pubsub subscriptions describe":
		topic, ok := s.Subscriptions[full("subscriptions", name)]
		if !ok {
			return notFound(full("subscriptions", name))
		}
		if flags["format"] == "value(filter)" {
			fmt.Fprintln(stdout, s.Filters[full("subscriptions", name)])
			return 0
		}
		fmt.Fprintln(stdout, topic)
	case "pubsub topics list-subscriptions":
		var subs []string
		for sub, topic := range s.Subscriptions {
			if topic == full("topics", name) {
				subs = append(subs, sub)
			}
		}
		slices.Sort(subs)
		for _, sub := range subs {
			fmt.Fprintln(stdout, sub)
		}
	case "pubsub topics create":
		if s.Topics[full("topics", name)] {
			return fail("ALREADY_EXISTS: %s", name)
		}
		s.Topics[full("topics", name)] = true
		s.retain(full("topics", name), flags)
	case "pubsub subscriptions create":
		if _, ok := s.Subscriptions[full("subscriptions", name)]; ok {
			return fail("ALREADY_EXISTS: %s", name)
		}
		s.Subscriptions[full("subscriptions", name)] = full("topics", flags["topic"])
		if f := flags["message-filter"]; f != "" {
			if s.Filters == nil {
				s.Filters = map[string]string{}
			}
			s.Filters[full("subscriptions", name)] = f
		}
	case "pubsub topics update":
		if !s.Topics[full("topics", name)] {
			return notFound(full("topics", name))
		}
		s.retain(full("topics", name), flags)
	case "pubsub subscriptions update":
		if _, ok := s.Subscriptions[full("subscriptions", name)]; !ok {
			return notFound(name)
		}
	case "projects describe":
		fmt.Fprintln(stdout, "1234567890")
	case "pubsub topics add-iam-policy-binding", "pubsub subscriptions add-iam-policy-binding":
		kind := words[1]
		r := full(kind, name)
		if _, ok := s.Subscriptions[r]; !s.Topics[r] && !ok {
			return notFound(r)
		}
		s.Bindings[iamBinding{r, flags["member"], flags["role"]}.key()] = true
	case "projects add-iam-policy-binding":
		if flags["condition"] != "None" {
			return fail("a binding on a project with conditions needs --condition in non-interactive mode")
		}
		if r, custom := s.Roles[flags["role"]]; strings.Contains(flags["role"], "/roles/") && (!custom || r.Deleted) {
			return fail("INVALID_ARGUMENT: role %s does not exist", flags["role"])
		}
		s.Bindings[iamBinding{"projects/" + name, flags["member"], flags["role"]}.key()] = true
	case "iam roles describe":
		r, ok := s.Roles["projects/"+project+"/roles/"+name]
		if !ok {
			return notFound("role " + name)
		}
		if r.Deleted {
			fmt.Fprintln(stdout, "True")
		} else {
			fmt.Fprintln(stdout)
		}
	case "iam roles create":
		if _, ok := s.Roles["projects/"+project+"/roles/"+name]; ok {
			return fail("ALREADY_EXISTS: role %s", name)
		}
		s.Roles["projects/"+project+"/roles/"+name] = &fakeRole{Permissions: strings.Split(flags["permissions"], ",")}
	case "iam roles update", "iam roles undelete":
		r, ok := s.Roles["projects/"+project+"/roles/"+name]
		if !ok {
			return notFound("role " + name)
		}
		if words[2] == "undelete" {
			r.Deleted = false
		} else if r.Deleted {
			return fail("FAILED_PRECONDITION: role %s is deleted", name)
		} else {
			r.Permissions = strings.Split(flags["permissions"], ",")
		}
	default:
		return fail("fake gcloud: unexpected command %q", words)
	}
	return 0
}

// retain records the retention a topic is created or updated with.
func (s *gcloudState) retain(topic string, flags map[string]string) {
	if d, ok := flags["message-retention-duration"]; ok {
		s.Retention[topic] = d
	}
}

// creations are the calls that create something.
func (s *gcloudState) creations() [][]string {
	var out [][]string
	for _, c := range s.Calls {
		if slices.Contains(c, "create") {
			out = append(out, c)
		}
	}
	return out
}
