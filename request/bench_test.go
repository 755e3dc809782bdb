package request

import "testing"

// go test -run '^$' -bench . -benchmem ./request

func BenchmarkDecodeJSON(b *testing.B) {
	data := []byte(`{"name":"enterprises/e1/devices/d1/operations/o1","service":"androidmanagement.googleapis.com","reason":"incident 4711","batch":"2026-11-22-wipe-storm"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(data, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBareName(b *testing.B) {
	data := []byte("operations/abc123\n")
	attrs := map[string]string{"service": "vault.googleapis.com", "batch": "b1"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(data, attrs); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeFullName(b *testing.B) {
	data := []byte("//androidmanagement.googleapis.com/enterprises/e1/devices/d1/operations/o1")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(data, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateName(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if err := ValidateName("enterprises/LC01abcd/devices/3f9a2b7c1d/operations/1700000000123"); err != nil {
			b.Fatal(err)
		}
	}
}
