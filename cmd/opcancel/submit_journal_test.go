package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// journalLines is a journal of batch b1 on projects/p/topics/requests
// with the list operations/a, operations/b, of which a was published.
func journalLines() []string {
	return []string{
		`{"journal":"opcancel submit","version":1,"batch":"b1","topic":"projects/p/topics/requests","reason":"","startedAt":"2026-11-22T07:53:20Z","names":2}`,
		`{"plan":1,"service":"vault.googleapis.com","name":"operations/a"}`,
		`{"plan":2,"service":"vault.googleapis.com","name":"operations/b"}`,
		`{"published":1,"service":"vault.googleapis.com","name":"operations/a","messageId":"11"}`,
	}
}

// TestSubmitJournalResumesOrRefuses: a dry run with a journal counts what
// is left of its list, from the list or from the same names; a journal of
// another batch, topic or reason, names that differ from its list, and a
// line that is not what it should be are refused (exit 2) with a message
// that names the difference or the line. Nothing is published: no
// Pub/Sub is reached.
func TestSubmitJournalResumesOrRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		edit  func([]string) []string // nil: journalLines as they are
		cut   bool                    // no newline after the last line
		args  []string
		code  int
		want  string // in stdout when code is 0, else in the error
		after string // the file afterwards, if checked
	}{
		{name: "its own list", code: 0, want: "valid (dry run, nothing published): 1 (1 earlier), invalid: 0, failed: 0, batch: b1"},
		{name: "the same names", args: []string{"operations/a", "operations/b"}, code: 0, want: "1 (1 earlier)"},
		{name: "another batch", args: []string{"--batch=b2"}, code: 2, want: `it is the journal of batch "b1", not "b2" (--batch)`},
		{name: "another topic", args: []string{"--topic=other"}, code: 2, want: "it is the journal of topic projects/p/topics/requests, not projects/p/topics/other (--topic)"},
		{name: "another reason", args: []string{"--reason=drill"}, code: 2, want: `its batch has the reason "", not "drill" (--reason)`},
		{name: "another name", args: []string{"operations/a", "operations/c"}, code: 2,
			want: "name 2 of its list is //vault.googleapis.com/operations/b (line 3), but this run's is //vault.googleapis.com/operations/c (argument 2)"},
		{name: "fewer names", args: []string{"operations/a"}, code: 2,
			want: "this run has 1 valid names, its list 2: the first missing is //vault.googleapis.com/operations/b (line 3)"},
		{name: "more names", args: []string{"operations/a", "operations/b", "operations/c"}, code: 2,
			want: "this run has more valid names than its list of 2: the first not in it is //vault.googleapis.com/operations/c (argument 3)"},
		{name: "not a journal", edit: func(l []string) []string { return append([]string{"names"}, l[1:]...) }, code: 2,
			want: "line 1: not the header of a journal of opcancel submit"},
		{name: "a batch that would clear the terminal", edit: func(l []string) []string { l[0] = strings.Replace(l[0], `"b1"`, `"b1\u001b[2J"`, 1); return l },
			code: 2, want: `line 1: the batch "b1\x1b[2J" has characters that are not printable`},
		{name: "a corrupt line", edit: func(l []string) []string { l[2] = `{"plan":2,"service"`; return l }, code: 2,
			want: "line 3: not a line of a journal"},
		{name: "a line of another list", edit: func(l []string) []string { l[3] = strings.Replace(l[3], "operations/a", "operations/x", 1); return l },
			code: 2, want: "line 4: published //vault.googleapis.com/operations/x as name 1, but the list's name 1 is //vault.googleapis.com/operations/a"},
		{name: "a name published twice", edit: func(l []string) []string { return append(l, strings.Replace(l[3], `"11"`, `"12"`, 1)) },
			code: 2, want: "line 5: name 1 published a second time (message 11, then 12)"},
		{name: "a list cut short", edit: func(l []string) []string { return l[:2] }, code: 2,
			want: "it ends after 2 lines, inside its header or list of names: the run that wrote it stopped before publishing anything"},
		{name: "a last line cut short", edit: func(l []string) []string { return append(l, `{"published":2,"serv`) }, cut: true,
			code: 0, want: "1 (1 earlier)", after: strings.Join(journalLines(), "\n") + "\n"},
		{name: "the runs that published", edit: func(l []string) []string {
			return append(l[:3], append([]string{`{"run":"9f86d081884c7d65"}`}, append(l[3:], `{"run":"5e2a0c6f1b7d9e31"}`)...)...)
		}, code: 0, want: "1 (1 earlier)"},
		{name: "a run with more", edit: func(l []string) []string { return append(l, `{"run":"5e2a0c6f1b7d9e31","published":2}`) }, code: 2,
			want: `line 5: want a run ("run": 1-64 printable characters) and nothing else`},
		{name: "a run that is no run's", edit: func(l []string) []string { return append(l, `{"run":"a b"}`) }, code: 2,
			want: `line 5: want a run`},
		{name: "a last line without its newline", edit: func(l []string) []string {
			return append(l, `{"published":2,"service":"vault.googleapis.com","name":"operations/b","messageId":"12"}`)
		}, cut: true, code: 0, want: "0 (2 earlier)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lines := journalLines()
			if tt.edit != nil {
				lines = tt.edit(lines)
			}
			text := strings.Join(lines, "\n")
			if !tt.cut {
				text += "\n"
			}
			path := filepath.Join(t.TempDir(), "j")
			if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"submit", "--project=p", "--topic=requests", "--dry-run", "--journal=" + path}, tt.args...)
			out, errb, code, err := runCLI(t, nil, args...)
			switch {
			case code != tt.code:
				t.Fatalf("exit %d (%v), want %d\n%s", code, err, tt.code, errb)
			case code == 0 && !strings.Contains(out, tt.want):
				t.Errorf("stdout %q does not contain %q", out, tt.want)
			case code != 0 && !strings.Contains(err.Error(), "--journal "+path+": "+tt.want):
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if tt.after != "" {
				if b, _ := os.ReadFile(path); string(b) != tt.after {
					t.Errorf("the journal afterwards:\n%s\nwant:\n%s", b, tt.after)
				}
				if !strings.Contains(errb, "line 5 was cut short") {
					t.Errorf("stderr does not say the cut line was dropped:\n%s", errb)
				}
			}
		})
	}
}

// TestSubmitJournalIsNotCreatedByADryRun, and one in use by another
// submit is refused.
func TestSubmitJournalInUseOrDryRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fresh := filepath.Join(dir, "new")
	out, _, code, err := runCLI(t, nil, "submit", "--project=p", "--topic=requests", "--dry-run", "--journal="+fresh, "operations/a")
	if _, serr := os.Stat(fresh); code != 0 || !strings.Contains(out, "valid (dry run, nothing published): 1,") || serr == nil {
		t.Errorf("a dry run with a new journal: exit %d (%v), stdout %q, the file exists: %v", code, err, out, serr == nil)
	}
	held := filepath.Join(dir, "held")
	if err := os.WriteFile(held, []byte(strings.Join(journalLines(), "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(held)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	unlock, err := lockFile(f)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	_, _, code, err = runCLI(t, nil, "submit", "--project=p", "--topic=requests", "--dry-run", "--journal="+held)
	if code != 1 || !strings.Contains(err.Error(), "--journal "+held+": another submit is using it") {
		t.Errorf("a journal in use: exit %d (%v), want 1 saying so", code, err)
	}
}

// TestSubmitJournalConfirmsWhatIsLeft: the confirmation counts the names
// the run publishes, not those the journal says were published before;
// a new journal is not written when the run is not confirmed.
func TestSubmitJournalConfirmsWhatIsLeft(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "j")
	if err := os.WriteFile(path, []byte(strings.Join(journalLines(), "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, code, err := runCLI(t, nil, "submit", "--project=p", "--topic=requests", "--journal="+path, "--confirm-above=0")
	if code != 2 || !strings.Contains(err.Error(), "1 cancel requests (vault.googleapis.com 1) would be published") {
		t.Errorf("resumed, not confirmed: exit %d (%v), want 2 counting the 1 name left", code, err)
	}
	fresh := filepath.Join(dir, "new")
	_, _, code, _ = runCLI(t, nil, "submit", "--project=p", "--topic=requests", "--journal="+fresh, "--confirm-above=0", "operations/a")
	if _, serr := os.Stat(fresh); code != 2 || serr == nil {
		t.Errorf("a new journal, not confirmed: exit %d, the file exists: %v; want 2 and no file", code, serr == nil)
	}
}

// TestSubmitJournalNamesItsRuns: each run records its manifest's run in the
// journal before it publishes; the run that resumes the journal reads them
// back for its end record's earlierRuns, the latest maxEarlierRuns.
func TestSubmitJournalNamesItsRuns(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "j")
	var want []string
	for i := range maxEarlierRuns + 20 {
		j, err := openJournal(path, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := j.create(journalHeader{Batch: "b1", Topic: "projects/p/topics/requests"}, nil); err != nil {
				t.Fatal(err)
			}
		}
		if got := j.earlierRuns(); !slices.Equal(got, want[max(0, len(want)-maxEarlierRuns):]) {
			t.Fatalf("run %d: earlier runs %v, want the latest %d of %v", i, got, maxEarlierRuns, want)
		}
		run := fmt.Sprintf("run-%d", i)
		if err := j.startRun(run); err != nil {
			t.Fatal(err)
		}
		want = append(want, run)
		if err := j.close(); err != nil {
			t.Fatal(err)
		}
	}
}
