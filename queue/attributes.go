package queue

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// Pub/Sub's limits on a message's attributes. The server refuses a publish
// request in which any one message breaks them, failing every message
// bundled with it; the emulator does not enforce them.
const (
	maxAttributes          = 100
	maxAttributeKeyBytes   = 256
	maxAttributeValueBytes = 1024
)

// fitAttributes returns attrs within Pub/Sub's limits. It is the one place
// every attribute opcancel publishes passes through: a key that is empty,
// longer than 256 bytes, not UTF-8 or starting with "goog" (reserved) is
// left out; a value that is not UTF-8 has its bad bytes replaced, and one
// longer than 1024 bytes is cut at a character boundary and ends in "…";
// past 100 attributes, the first 100 in key order are kept. Callers pass
// validated values, which fit; this is the guarantee that one bad value
// cannot fail a whole publish request.
func fitAttributes(attrs map[string]string) map[string]string {
	if attrs == nil {
		return nil
	}
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		if k != "" && len(k) <= maxAttributeKeyBytes && utf8.ValidString(k) && !strings.HasPrefix(k, "goog") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := make(map[string]string, min(len(keys), maxAttributes))
	for _, k := range keys[:min(len(keys), maxAttributes)] {
		out[k] = fitValue(attrs[k])
	}
	return out
}

// fitValue makes v valid UTF-8 of at most maxAttributeValueBytes.
func fitValue(v string) string {
	v = strings.ToValidUTF8(v, "\uFFFD")
	if len(v) <= maxAttributeValueBytes {
		return v
	}
	const mark = "…"
	cut := maxAttributeValueBytes - len(mark)
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return v[:cut] + mark
}
