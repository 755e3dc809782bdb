package queue

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// TestFitAttributes: whatever a caller passes, the attributes that reach
// Pub/Sub are within its limits (keys of 1 to 256 bytes not starting with
// "goog", values of at most 1024 bytes, at most 100 of them, all UTF-8), so
// that one message can never fail the publish request it is bundled in. The
// emulator does not enforce these limits; Pub/Sub does.
func TestFitAttributes(t *testing.T) {
	t.Parallel()
	many := map[string]string{}
	for i := range 150 {
		many[fmt.Sprintf("k%03d", i)] = "v"
	}
	tests := []struct {
		name string
		in   map[string]string
		want map[string]string
	}{
		{"within the limits", map[string]string{"outcome": "cancelled", "batch": "b1"}, map[string]string{"outcome": "cancelled", "batch": "b1"}},
		{"nil", nil, nil},
		{"long value is cut at a character boundary",
			map[string]string{"batch": strings.Repeat("é", 600)},
			map[string]string{"batch": strings.Repeat("é", 510) + "…"}},
		{"value that is not UTF-8", map[string]string{"batch": "b\xff1"}, map[string]string{"batch": "b\uFFFD1"}},
		{"keys Pub/Sub refuses are left out",
			map[string]string{"": "x", "goog-x": "x", strings.Repeat("k", 257): "x", "k\xff": "x", strings.Repeat("k", 256): "ok"},
			map[string]string{strings.Repeat("k", 256): "ok"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, fitAttributes(tt.in)); diff != "" {
			t.Errorf("%s: (-want +got):\n%s", tt.name, diff)
		}
	}
	got := fitAttributes(many)
	if len(got) != maxAttributes {
		t.Errorf("%d attributes kept of 150, want %d", len(got), maxAttributes)
	}
	if _, ok := got["k099"]; !ok {
		t.Errorf("the first %d keys in order are not the ones kept", maxAttributes)
	}
	for k, v := range fitAttributes(map[string]string{"batch": strings.Repeat("x", 5000)}) {
		if len(v) > maxAttributeValueBytes || !utf8.ValidString(v) {
			t.Errorf("%s: %d bytes", k, len(v))
		}
	}
}
