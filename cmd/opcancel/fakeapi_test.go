package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestFakeAPIServesTheMix(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	stderr := &syncBuffer{}
	go func() {
		errc <- run(ctx, []string{"fake-api", "--listen=127.0.0.1:0", "--latency=0s", "--mix=unimplemented=1"}, getenvFrom(nil), strings.NewReader(""), &syncBuffer{}, stderr)
	}()
	var addr string
	waitFor(t, "the fake API", untilDeadline(t), func() bool {
		_, err := fmt.Sscanf(stderr.String(), "fake operations API on %s ", &addr)
		return err == nil
	})
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
