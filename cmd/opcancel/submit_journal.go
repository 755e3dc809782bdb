package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// journal is `submit --journal FILE`: the batch's list of names and what
// has been published of it, so that a second run publishes only what is
// missing, under the same batch. The file is JSON Lines: a header, the
// list (one line per name, "plan": its position), then one line per
// message the server has ("published": the position, with its message
// ID), appended as the answers come and made durable (fsync) before
// submit waits for the next answer, and at least every
// journalSyncEvery lines. Each run that publishes also adds a line with
// the ID of its manifest's run ("run"), so that a run that resumes the
// journal names the earlier ones in its manifest (manifestEnd.EarlierRuns). A message is recorded only once the server
// has it; what a crash leaves behind is in docs/contract.md#resuming-a-submit.
type journal struct {
	path   string
	header journalHeader
	plan   []journalLine // position n is plan[n-1]
	sent   map[int]string
	// runs are the manifest runs of the earlier runs, in the file's order.
	runs []string
	// exists: the file was there when submit started: this run resumes it.
	exists bool

	f        *os.File
	w        *bufio.Writer
	unsynced int
	unlock   func()
}

// journalSyncEvery bounds the lines written between two fsyncs: a crash
// loses at most that many records (their names are published again).
const journalSyncEvery = maxPartEntries

// journalHeader is the first line.
type journalHeader struct {
	Journal   string    `json:"journal"`
	Version   int       `json:"version"`
	Batch     string    `json:"batch"`
	Topic     string    `json:"topic"`
	Reason    string    `json:"reason"`
	StartedAt time.Time `json:"startedAt"`
	Names     int       `json:"names"`
}

const (
	journalKind    = "opcancel submit"
	journalVersion = 1
)

// journalLine is a name of the list (Plan), a message published for one
// (Published, MessageID), or the start of a run (Run alone).
type journalLine struct {
	Plan      int    `json:"plan,omitempty"`
	Published int    `json:"published,omitempty"`
	Service   string `json:"service,omitempty"`
	Name      string `json:"name,omitempty"`
	MessageID string `json:"messageId,omitempty"`
	Run       string `json:"run,omitempty"`
}

// journalError is a usage error about the journal at path.
func journalError(path string, format string, args ...any) error {
	return usagef("--journal %s: %s", path, fmt.Sprintf(format, args...))
}

// journalIOError is a runtime error writing or reading the journal.
func journalIOError(path string, format string, args ...any) error {
	return fmt.Errorf("--journal %s: %s", path, fmt.Sprintf(format, args...))
}

// planNames are the journal's list as names to submit, for a run that
// gives none.
func (j *journal) planNames() []givenName {
	names := make([]givenName, len(j.plan))
	for i, l := range j.plan {
		names[i] = givenName{where: fmt.Sprintf("journal %s:%d", j.path, i+2), text: "//" + l.Service + "/" + l.Name}
	}
	return names
}

// reconcile compares the run's valid names with the list of the journal
// (one that exists) and returns what is left to publish: the names with
// no published line.
func (j *journal) reconcile(out []outgoing) ([]outgoing, error) {
	if err := j.sameList(out); err != nil {
		return nil, err
	}
	var todo []outgoing
	for _, o := range out {
		if _, ok := j.sent[o.n]; !ok {
			todo = append(todo, o)
		}
	}
	return todo, nil
}

// sameList: the run's valid names are the journal's list, in its order.
func (j *journal) sameList(out []outgoing) error {
	const hint = "give the names of the run that started it, or none to resume its own list"
	for i, o := range out {
		if i >= len(j.plan) {
			return journalError(j.path, "this run has more valid names than its list of %d: the first not in it is //%s/%s (%s); %s",
				len(j.plan), o.req.Service, o.req.Name, o.where, hint)
		}
		if l := j.plan[i]; l.Service != o.req.Service || l.Name != o.req.Name {
			return journalError(j.path, "name %d of its list is //%s/%s (line %d), but this run's is //%s/%s (%s); %s",
				i+1, l.Service, l.Name, i+2, o.req.Service, o.req.Name, o.where, hint)
		}
	}
	if len(out) < len(j.plan) {
		l := j.plan[len(out)]
		return journalError(j.path, "this run has %d valid names, its list %d: the first missing is //%s/%s (line %d); %s",
			len(out), len(j.plan), l.Service, l.Name, len(out)+2, hint)
	}
	return nil
}

// create writes a new journal: the header and the list, made durable
// before anything is published. The file must not exist.
func (j *journal) create(h journalHeader, out []outgoing) error {
	f, err := os.OpenFile(j.path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return journalIOError(j.path, "%v", err)
	}
	if j.unlock, err = lockFile(f); err != nil {
		f.Close()
		return journalIOError(j.path, "another submit is using it (%v)", err)
	}
	j.f, j.w, j.header = f, bufio.NewWriter(f), h
	j.header.Journal, j.header.Version, j.header.Names = journalKind, journalVersion, len(out)
	j.writeLine(j.header)
	for _, o := range out {
		l := journalLine{Plan: o.n, Service: o.req.Service, Name: o.req.Name}
		j.plan = append(j.plan, l)
		j.writeLine(l)
	}
	if err := j.sync(); err != nil {
		return err
	}
	// The new file's name is durable only once its directory is.
	if d, err := os.Open(filepath.Dir(j.path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func (j *journal) writeLine(v any) {
	b, _ := json.Marshal(v) // plain structs of strings and numbers
	j.w.Write(append(b, '\n'))
	j.unsynced++
}

// published appends that name n of the list was published as message
// id; the caller makes it durable (sync), at least every
// journalSyncEvery lines.
func (j *journal) published(n int, id string) {
	if j.w == nil {
		j.w = bufio.NewWriter(j.f)
	}
	l := j.plan[n-1]
	j.writeLine(journalLine{Published: n, Service: l.Service, Name: l.Name, MessageID: id})
	j.sent[n] = id
}

// startRun records that run (its manifest's run ID) publishes now, made
// durable before it does.
func (j *journal) startRun(run string) error {
	if j.w == nil {
		j.w = bufio.NewWriter(j.f)
	}
	j.writeLine(journalLine{Run: run})
	return j.sync()
}

// earlierRuns are the runs the journal names, the latest maxEarlierRuns.
func (j *journal) earlierRuns() []string {
	if j == nil {
		return nil
	}
	return j.runs[max(0, len(j.runs)-maxEarlierRuns):]
}

// sync makes the lines written so far durable.
func (j *journal) sync() error {
	if j.unsynced == 0 {
		return nil
	}
	if err := j.w.Flush(); err != nil {
		return journalIOError(j.path, "write: %v", err)
	}
	if err := j.f.Sync(); err != nil {
		return journalIOError(j.path, "sync: %v", err)
	}
	j.unsynced = 0
	return nil
}

// earlier are the messages the journal says were published, in the
// list's order, for the manifest.
func (j *journal) earlier() []manifestEntry {
	if j == nil {
		return nil
	}
	var out []manifestEntry
	for n, l := range j.plan {
		if id, ok := j.sent[n+1]; ok {
			out = append(out, manifestEntry{MessageID: id, Service: l.Service, Name: l.Name})
		}
	}
	return out
}

// close makes what was written durable, unlocks and closes the file.
func (j *journal) close() error {
	if j.f == nil {
		return nil
	}
	var err error
	if j.w != nil {
		err = j.sync()
	}
	if j.unlock != nil {
		j.unlock()
	}
	if cerr := j.f.Close(); err == nil && cerr != nil {
		err = journalIOError(j.path, "%v", cerr)
	}
	j.f = nil
	return err
}
