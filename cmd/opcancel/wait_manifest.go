package main

import (
	"encoding/json"
	"fmt"
	"time"

	"opcancel/lro"
	"opcancel/request"
)

// A batch's manifest is what tells `wait` which messages a batch has: each
// run of `submit --wait` or `submit --journal` publishes it to the batches
// topic, apart from the worker's result events, in parts that list the
// messages the server has (message ID, service, name), then one end record
// with the run's counts. A run that resumes a journal lists again what the
// journal says earlier runs published, so the parts of one finished run
// name every message of the batch. See docs/contract.md#batch-manifests.

// manifestAttribute is the attribute that marks a manifest record (its
// value is the run) and tells it from a result event, which has none.
// Each is read only from its own topic: a message of the batches topic
// without it, or one of the results topic with it, is not taken.
const manifestAttribute = "manifest"

// Bounds of a part, so that one stays far below Pub/Sub's 10 MB message
// (a name is at most 1024 bytes).
const (
	maxPartEntries = 1000
	maxRunIDBytes  = 64
	maxEarlierRuns = 100
	maxMessageID   = 128
	maxHostBytes   = 253
)

// manifestRecord is one message of a manifest: a part, or the run's end.
type manifestRecord struct {
	Batch string `json:"batch"`
	// Run tells the runs of one batch apart: random, per process.
	Run string `json:"run"`
	// Part numbers the parts of a run from 1; 0 in the end record.
	Part     int             `json:"part,omitempty"`
	Messages []manifestEntry `json:"messages,omitempty"`
	End      *manifestEnd    `json:"end,omitempty"`
}

// manifestEntry is one published message.
type manifestEntry struct {
	MessageID string `json:"messageId"`
	Service   string `json:"service"`
	Name      string `json:"name"`
}

// manifestEnd ends a run's manifest with the run's summary.
type manifestEnd struct {
	// Parts is how many parts the run published.
	Parts int `json:"parts"`
	// Published, PublishedEarlier, Invalid and Failed are the run's
	// summary (submitSummary).
	Published        int `json:"published"`
	PublishedEarlier int `json:"publishedEarlier"`
	Invalid          int `json:"invalid"`
	Failed           int `json:"failed"`
	// Interrupted: the run stopped publishing before the end of its names,
	// whatever stopped it (an interrupt, a journal that could not be
	// written); a later run with the journal publishes the rest.
	Interrupted bool      `json:"interrupted"`
	EndedAt     time.Time `json:"endedAt"`
	// EarlierRuns are the runs of the journal this run resumed, as its
	// journal names them (the latest maxEarlierRuns): a run killed before
	// its end record does not keep the batch open once this one ended.
	EarlierRuns []string `json:"earlierRuns,omitempty"`
	// Names is how many names the batch's list has (a journal's list, or
	// the run's valid names), and Left how many of them no run has
	// published yet: failed, and never tried. Left is nil in an end record
	// of a submit that predates it.
	Names int  `json:"names"`
	Left  *int `json:"left"`
}

// finished: the run ended with every name of the batch's list published,
// so that its messages are every message of the batch. An end record
// without Left says so when the run was not interrupted and had no
// failed publish.
func (e *manifestEnd) finished() bool {
	if e.Left != nil {
		return *e.Left == 0 && !e.Interrupted
	}
	return !e.Interrupted && e.Failed == 0
}

// summary is the run's summary line.
func (e *manifestEnd) summary(batch string) submitSummary {
	s := submitSummary{batch: batch, published: e.Published, earlier: e.PublishedEarlier, invalid: e.Invalid, failed: e.Failed}
	if e.Left != nil {
		s.notTried = max(*e.Left-e.Failed, 0)
	}
	return s
}

// decodeManifestRecord reads a manifest record from a message's data. A
// record that breaks the bounds is refused, and so is an entry whose name
// or service could not have been published (request.ValidateName), so that
// nothing unchecked reaches the report.
func decodeManifestRecord(data []byte) (manifestRecord, error) {
	var r manifestRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("manifest record: %w", err)
	}
	switch {
	case !runID(r.Run):
		return r, fmt.Errorf("manifest record: run %q: want 1-%d printable characters", lro.Clip(r.Run, maxRunIDBytes), maxRunIDBytes)
	case r.End == nil && r.Part < 1:
		return r, fmt.Errorf("manifest record of run %s: neither a part (from 1) nor an end", r.Run)
	case r.End != nil && (r.Part != 0 || len(r.Messages) > 0):
		return r, fmt.Errorf("manifest record of run %s: an end record with messages", r.Run)
	case len(r.Messages) > maxPartEntries:
		return r, fmt.Errorf("manifest record of run %s: %d messages in a part, the limit is %d", r.Run, len(r.Messages), maxPartEntries)
	case r.End != nil && (r.End.Parts < 0 || r.End.Published < 0 || r.End.PublishedEarlier < 0 || r.End.Invalid < 0 || r.End.Failed < 0 ||
		r.End.Names < 0 || r.End.Left != nil && *r.End.Left < 0):
		return r, fmt.Errorf("manifest record of run %s: a negative count", r.Run)
	case r.End != nil && r.End.Parts == 0:
		// A run publishes its first part before anything else
		// (manifestWriter.open): an end without one is no run's.
		return r, fmt.Errorf("manifest record of run %s: an end record that counts no part", r.Run)
	case r.End != nil && len(r.End.EarlierRuns) > maxEarlierRuns:
		return r, fmt.Errorf("manifest record of run %s: %d earlier runs, the limit is %d", r.Run, len(r.End.EarlierRuns), maxEarlierRuns)
	}
	if r.End != nil {
		for _, id := range r.End.EarlierRuns {
			if !runID(id) {
				return r, fmt.Errorf("manifest record of run %s: earlier run %q: want 1-%d printable characters", r.Run, lro.Clip(id, maxRunIDBytes), maxRunIDBytes)
			}
		}
	}
	for _, m := range r.Messages {
		if err := m.validate(); err != nil {
			return r, fmt.Errorf("manifest record of run %s, part %d: %w", r.Run, r.Part, err)
		}
	}
	return r, nil
}

func (m manifestEntry) validate() error {
	switch {
	case m.MessageID == "" || len(m.MessageID) > maxMessageID || !printableASCII(m.MessageID):
		return fmt.Errorf("message ID %q: want 1-%d printable characters", lro.Clip(m.MessageID, maxMessageID), maxMessageID)
	case !hostName(m.Service):
		return fmt.Errorf("message %s: service %q is not a host name", m.MessageID, lro.Clip(m.Service, maxHostBytes))
	}
	if err := request.ValidateName(m.Name); err != nil {
		return fmt.Errorf("message %s: %w", m.MessageID, err)
	}
	return nil
}

// hostName: letters, digits, '-' and '.', at most 253 bytes.
func hostName(s string) bool {
	if s == "" || len(s) > maxHostBytes {
		return false
	}
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// runID: a run's ID as submit makes it could be: 1-maxRunIDBytes
// printable characters.
func runID(s string) bool {
	return s != "" && len(s) <= maxRunIDBytes && printableASCII(s)
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
