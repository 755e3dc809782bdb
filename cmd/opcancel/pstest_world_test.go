package main

import (
	"testing"

	"opcancel/internal/e2etest"
	"opcancel/queue/queuetest"
)

// pstestWorld is an in-process Pub/Sub (pstest) with a request topic and
// the worker's subscription, and a services file that points both built-in
// services at one API (e2etest.PstestWorld): a quick world for tests of the
// running worker that need no emulator.
type pstestWorld struct{ *e2etest.PstestWorld }

func newPstestWorld(t *testing.T, apiURL string) *pstestWorld {
	t.Helper()
	return &pstestWorld{e2etest.NewPstestWorld(t, apiURL)}
}

// publish sends one request per name.
func (w *pstestWorld) publish(t *testing.T, names ...string) { w.Publish(t, names...) }

// start runs `opcancel worker` in-process on this world, with args, until
// the test ends. pstest stands in for the emulator: startWorker reads only
// its Host.
func (w *pstestWorld) start(t *testing.T, args ...string) (admin string, logs *syncBuffer) {
	t.Helper()
	admin, logs, _ = startWorker(t, &queuetest.Emulator{Host: w.Server.Addr},
		append([]string{"--subscription=" + w.Sub, "--config=" + w.Config}, args...)...)
	return admin, logs
}
