package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestResultKeepsTheContractKeyOrder(t *testing.T) {
	r := result{Scenario: "x", Value: 1.23456, Unit: "u", Bound: 2, Ratio: 0.61728, Target: 0.9, Pass: false}
	r.add("rejected_share", 0.1)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"scenario":"x","value":1.235,"unit":"u","bound":2,"ratio":0.617,"target":0.9,"pass":false,"rejected_share":0.1}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

func TestMaxInWindowAndSteadyRate(t *testing.T) {
	base := time.Unix(0, 0)
	var times []time.Time
	for i := range 300 {
		times = append(times, base.Add(time.Duration(i)*5*time.Millisecond))
	}
	if got := maxInWindow(times, time.Second); got != 200 {
		t.Errorf("maxInWindow = %d, want 200 (5 ms apart)", got)
	}
	c := completions{times: times}
	if got := c.steadyRate(); got < 199 || got > 201 {
		t.Errorf("steadyRate = %v, want 200/s", got)
	}
}

func TestUnknownScenario(t *testing.T) {
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"-scenario", "nope"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "latency_bound") {
		t.Errorf("err = %v", err)
	}
}
