package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"opcancel/request"
)

// Reading a journal (submit_journal.go) and checking it against the run.

// openJournal opens the journal at path and reads it, or notes that it
// does not exist yet (it is created by start). It is locked until close.
// A last line cut short by a crash (no newline, not JSON) is dropped with a
// note on stderr; any other line that is not what it should be is an
// error naming it.
func openJournal(path string, stderr io.Writer) (*journal, error) {
	j := &journal{path: path, sent: map[int]string{}}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return j, nil
	}
	if err != nil {
		return nil, journalIOError(path, "%v", err)
	}
	if j.unlock, err = lockFile(f); err != nil {
		f.Close()
		return nil, journalIOError(path, "another submit is using it (%v)", err)
	}
	j.f, j.exists = f, true
	if err := j.read(stderr); err != nil {
		j.close()
		return nil, err
	}
	return j, nil
}

// read reads the whole file; the file offset ends at its end.
func (j *journal) read(stderr io.Writer) error {
	r := bufio.NewReader(j.f)
	var offset int64 // of line n
	n := 1
	for ; ; n++ {
		line, err := r.ReadBytes('\n')
		if len(line) == 0 && err == io.EOF {
			break
		}
		if err != nil && err != io.EOF {
			return journalIOError(j.path, "read: %v", err)
		}
		last := err == io.EOF // without a newline: maybe a write cut short
		perr := j.parse(n, bytes.TrimSuffix(line, []byte("\n")))
		switch {
		case perr != nil && !last:
			return perr
		case perr != nil && (j.header.Journal == "" || len(j.plan) < j.header.Names):
			// In the header or the list: told below.
		case perr != nil:
			fmt.Fprintf(stderr, "journal %s: line %d was cut short (a crash while it was written): dropped; its name is published again\n", j.path, n)
			if err := j.f.Truncate(offset); err != nil {
				return journalIOError(j.path, "drop line %d: %v", n, err)
			}
		case last:
			// Complete but for its newline: the next line starts after one.
			if _, err := j.f.WriteString("\n"); err != nil {
				return journalIOError(j.path, "%v", err)
			}
		}
		offset += int64(len(line))
		if last {
			break
		}
	}
	if j.header.Journal == "" || len(j.plan) < j.header.Names {
		return journalError(j.path, "it ends after %d lines, inside its header or list of names: the run that wrote it stopped "+
			"before publishing anything; delete it to start again", n-1)
	}
	_, err := j.f.Seek(0, io.SeekEnd)
	return err
}

// parse takes line n of the file.
func (j *journal) parse(n int, data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if n == 1 {
		if err := dec.Decode(&j.header); err != nil || j.header.Journal != journalKind {
			return journalError(j.path, "line 1: not the header of a journal of opcancel submit")
		}
		if h := j.header; h.Version != journalVersion || h.Batch == "" || h.Topic == "" || h.Names < 0 {
			return journalError(j.path, "line 1: a header of version %d, batch %q, topic %q, %d names: want version %d, a batch, a topic",
				h.Version, h.Batch, h.Topic, h.Names, journalVersion)
		}
		if err := j.header.printable(); err != nil {
			return journalError(j.path, "line 1: %v", err)
		}
		return nil
	}
	var l journalLine
	if err := dec.Decode(&l); err != nil || dec.More() {
		return journalError(j.path, "line %d: not a line of a journal: %s", n, lineError(err))
	}
	if len(j.plan) < j.header.Names {
		return j.parsePlan(n, l)
	}
	return j.parsePublished(n, l)
}

func lineError(err error) string {
	if err == nil {
		return "more than one JSON value"
	}
	return err.Error()
}

func (j *journal) parsePlan(n int, l journalLine) error {
	want := len(j.plan) + 1
	if l.Plan != want || l.Published != 0 || l.MessageID != "" {
		return journalError(j.path, "line %d: want name %d of the list (\"plan\": %d)", n, want, want)
	}
	if !hostName(l.Service) {
		return journalError(j.path, "line %d: service %q is not a host name", n, l.Service)
	}
	if err := request.ValidateName(l.Name); err != nil {
		return journalError(j.path, "line %d: %v", n, err)
	}
	j.plan = append(j.plan, l)
	return nil
}

func (j *journal) parsePublished(n int, l journalLine) error {
	if l.Run != "" {
		if l != (journalLine{Run: l.Run}) || !runID(l.Run) {
			return journalError(j.path, "line %d: want a run (\"run\": 1-%d printable characters) and nothing else", n, maxRunIDBytes)
		}
		j.runs = append(j.runs, l.Run)
		return nil
	}
	p := l.Published
	switch {
	case l.Plan != 0 || p < 1 || p > len(j.plan):
		return journalError(j.path, "line %d: want a published message of one of the list's %d names (\"published\": 1 to %d)", n, len(j.plan), len(j.plan))
	case l.Service != j.plan[p-1].Service || l.Name != j.plan[p-1].Name:
		return journalError(j.path, "line %d: published //%s/%s as name %d, but the list's name %d is //%s/%s",
			n, l.Service, l.Name, p, p, j.plan[p-1].Service, j.plan[p-1].Name)
	case l.MessageID == "" || len(l.MessageID) > maxMessageID || !printableASCII(l.MessageID):
		return journalError(j.path, "line %d: message ID %q: want 1-%d printable characters", n, l.MessageID, maxMessageID)
	}
	if id, dup := j.sent[p]; dup {
		return journalError(j.path, "line %d: name %d published a second time (message %s, then %s)", n, p, id, l.MessageID)
	}
	j.sent[p] = l.MessageID
	return nil
}

// printable refuses a header whose batch, topic or reason could not have
// come from submit: they are printed on the terminal (docs/contract.md#terminal-output)
// and put on every message.
func (h journalHeader) printable() error {
	for _, f := range []struct{ what, value string }{{"batch", h.Batch}, {"topic", h.Topic}, {"reason", h.Reason}} {
		if escape(f.value) != f.value {
			return fmt.Errorf("the %s %q has characters that are not printable: not a journal submit wrote", f.what, f.value)
		}
	}
	if _, err := request.Decode([]byte("x"), map[string]string{"batch": h.Batch, "reason": h.Reason}); err != nil {
		return err
	}
	return nil
}

// check refuses a journal of another batch or topic, or of another
// reason; it returns the journal's batch and reason to use.
func (j *journal) check(batch, topic, reason string) (string, string, error) {
	h := j.header
	switch {
	case batch != "" && batch != h.Batch:
		return "", "", journalError(j.path, "it is the journal of batch %q, not %q (--batch): a journal resumes its own batch", h.Batch, batch)
	case topic != h.Topic:
		return "", "", journalError(j.path, "it is the journal of topic %s, not %s (--topic)", h.Topic, topic)
	case reason != "" && reason != h.Reason:
		return "", "", journalError(j.path, "its batch has the reason %q, not %q (--reason)", h.Reason, reason)
	}
	return h.Batch, h.Reason, nil
}
