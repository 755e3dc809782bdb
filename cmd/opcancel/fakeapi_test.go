package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestFakeAPIServesTheMix(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"fake-api", "--listen=" + addr, "--latency=0s", "--mix=unimplemented=1"}, getenvFrom(nil), strings.NewReader(""), &syncBuffer{}, &syncBuffer{})
	}()
	waitFor(t, "the fake API", 10*time.Second, func() bool { return status(addr, "/v1/operations/x") != 0 })
	for _, name := range []string{"operations/a", "enterprises/e/devices/d/operations/o"} {
		resp, err := http.Post("http://"+addr+"/v1/"+name+":cancel", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotImplemented {
			t.Errorf("cancel %s = %d, want 501 UNIMPLEMENTED for every operation of the mix", name, resp.StatusCode)
		}
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("fake-api: %v", err)
	}
}
