package lrotest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"opcancel/lro"
)

type answer struct {
	Status int
	Done   bool
	Code   string
}

func do(t *testing.T, rt http.RoundTripper, method, path string) answer {
	t.Helper()
	req, _ := http.NewRequest(method, "http://fake.test"+path, nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var body struct {
		Done  bool `json:"done"`
		Error struct {
			Status string `json:"status"`
		} `json:"error"`
	}
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &body)
	return answer{resp.StatusCode, body.Done, body.Error.Status}
}

func TestScriptedStates(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	s.Set("operations/never", Script{DoneAfterPolls: Never})
	s.Set("operations/seq", Script{Cancel: []Answer{Exhausted(time.Second, "1"), Unavailable(0), {}}, DoneAfterPolls: 2, Final: Completed})
	s.Set("operations/done", Script{AlreadyDone: true, Final: Failed})
	rt := s.Transport()

	var got []answer
	got = append(got, do(t, rt, "GET", "/v1/operations/never")) // not cancelled: running
	got = append(got, do(t, rt, "POST", "/v1/operations/never:cancel"))
	for range 3 {
		got = append(got, do(t, rt, "GET", "/v1/operations/never"))
	}
	want := []answer{{200, false, ""}, {200, false, ""}, {200, false, ""}, {200, false, ""}, {200, false, ""}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("never (-want +got):\n%s", diff)
	}

	got = nil
	for range 4 {
		got = append(got, do(t, rt, "POST", "/v1/operations/seq:cancel"))
	}
	for range 3 {
		got = append(got, do(t, rt, "GET", "/v1/operations/seq"))
	}
	want = []answer{{429, false, "RESOURCE_EXHAUSTED"}, {503, false, "UNAVAILABLE"}, {200, false, ""}, {200, false, ""}, {200, false, ""}, {200, false, ""}, {200, true, ""}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("seq (-want +got):\n%s", diff)
	}

	got = []answer{do(t, rt, "POST", "/v1/operations/done:cancel"), do(t, rt, "GET", "/v1/operations/done"), do(t, rt, "GET", "/v1/operations/absent")}
	want = []answer{{400, false, "FAILED_PRECONDITION"}, {200, true, ""}, {404, false, "NOT_FOUND"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("done/absent (-want +got):\n%s", diff)
	}
	if got := do(t, rt, "POST", "/v1/operations/x:frobnicate"); got.Status != 404 {
		t.Errorf("unrouted path = %+v, want the HTML 404", got)
	}
	if st := s.Stats(); st.Cancels != 6 || st.Gets != 9 || st.Unrouted != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestQuotaAndFaults(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := New(Options{
			Quota: 10, QuotaBurst: 1, QuotaRetryDelay: 100 * time.Millisecond,
			Default: func(string) *Script { return &Script{} },
			Fault: func(r *http.Request) *Answer {
				if strings.HasSuffix(r.URL.Path, "/faulty") {
					return &Answer{Code: lro.Internal}
				}
				return nil
			},
		})
		rt := s.Transport()
		// 20 requests at once: one admitted, the rest throttled.
		codes := map[int]int{}
		for range 20 {
			codes[do(t, rt, "GET", "/v1/operations/a").Status]++
		}
		if codes[200] != 1 || codes[429] != 19 {
			t.Errorf("burst answers = %v, want one 200 and 19 429s", codes)
		}
		// Spaced at the quota, every request is admitted.
		for range 10 {
			time.Sleep(100 * time.Millisecond)
			if got := do(t, rt, "GET", "/v1/operations/a").Status; got != 200 {
				t.Errorf("spaced request = %d, want 200", got)
			}
		}
		if got := do(t, rt, "GET", "/v1/operations/faulty"); got.Status != 500 || got.Code != "INTERNAL" {
			t.Errorf("fault = %+v", got)
		}
		if st := s.Stats(); st.Throttled != 19 || st.Faults != 1 {
			t.Errorf("stats = %+v", st)
		}
	})
}

func TestHangResetAndLatencyInMemory(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := New(Options{Latency: 50 * time.Millisecond})
		s.Set("operations/hang", Script{Cancel: []Answer{{Hang: true}}})
		s.Set("operations/reset", Script{Cancel: []Answer{{Reset: true}}})
		s.Set("operations/slow", Script{Latency: time.Second})
		c := &http.Client{Transport: s.Transport(), Timeout: 10 * time.Second}

		start := time.Now()
		_, err := c.Post("http://fake.test/v1/operations/hang:cancel", "", nil)
		if err == nil || time.Since(start) != 10*time.Second {
			t.Errorf("hang: err %v after %v, want a timeout after 10s", err, time.Since(start))
		}
		_, err = c.Post("http://fake.test/v1/operations/reset:cancel", "", nil)
		if !errors.As(err, new(errReset)) {
			t.Errorf("reset: err = %v", err)
		}
		start = time.Now()
		resp, err := c.Get("http://fake.test/v1/operations/slow")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if d := time.Since(start); d != 1050*time.Millisecond {
			t.Errorf("latency = %v, want 1.05s", d)
		}
	})
}

func TestResetOverSockets(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	s.Set("operations/reset", Script{Cancel: []Answer{{Reset: true}}})
	srv := httptest.NewServer(s)
	defer srv.Close()
	resp, err := srv.Client().Post(srv.URL+"/v1/operations/reset:cancel", "", nil)
	if err == nil {
		resp.Body.Close()
		t.Fatal("reset answered")
	}
	if r := s.Requests(); len(r) != 1 || r[0].Status != 0 {
		t.Errorf("recorded %+v, want one request with no status", r)
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	s := New(Options{Default: func(string) *Script { return &Script{DoneAfterPolls: 1} }})
	rt := s.Transport()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			name := fmt.Sprintf("/v1/operations/op%d", i%5)
			for range 4 {
				req, _ := http.NewRequest("POST", "http://fake.test"+name+":cancel", nil)
				if resp, err := rt.RoundTrip(req); err == nil {
					resp.Body.Close()
				}
				req, _ = http.NewRequest("GET", "http://fake.test"+name, nil)
				if resp, err := rt.RoundTrip(req); err == nil {
					resp.Body.Close()
				}
			}
		})
	}
	wg.Wait()
	if n := len(s.Requests()); n != 400 {
		t.Errorf("recorded %d requests, want 400", n)
	}
	for i := range 5 {
		if st := s.Op(fmt.Sprintf("operations/op%d", i)); st.Cancels != 40 || st.Gets != 40 || !st.Done {
			t.Errorf("op%d = %+v", i, st)
		}
	}
}
