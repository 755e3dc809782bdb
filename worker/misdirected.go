package worker

import (
	"sync"
	"time"

	"go.uber.org/zap"

	"opcancel/lro"
)

// misdirectedLogEvery is how often, at most, a service's misdirected
// answers are logged: a wrong endpoint or version answers every request so,
// and one line a minute says it as well as one a message.
const misdirectedLogEvery = time.Minute

// misdirection is one service's record of answers that are not recognisably
// Google's (lro.Misdirected): they are counted at once and logged at most
// once every misdirectedLogEvery.
type misdirection struct {
	mu       sync.Mutex
	lastLog  time.Time
	unlogged int // answers since the last log line
}

// misdirected counts a misdirected answer of svc, and logs the likely
// misconfiguration when the last such line is old enough. The request is
// transient (lro.Classify): retried, then nacked, never acked as
// unimplemented; see docs/runbooks/OpcancelMisdirectedRequests.md.
func (w *Worker) misdirected(svc *lro.Service, st *serviceState, err error) {
	w.metrics.MisdirectedRequests.WithLabelValues(svc.Host).Inc()
	m := &st.misdirection
	m.mu.Lock()
	m.unlogged++
	now := time.Now()
	if !m.lastLog.IsZero() && now.Sub(m.lastLog) < misdirectedLogEvery {
		m.mu.Unlock()
		return
	}
	answers := m.unlogged
	m.lastLog, m.unlogged = now, 0
	m.mu.Unlock()
	w.log.Warn("requests answered by something that is not recognisably Google's API (a 404 or 405 without a Google error body): check the service's endpoint and version in the services file; these cancels are retried and nacked, not recorded as unimplemented",
		zap.String("service", svc.Host), zap.String("endpoint", svc.Endpoint.String()), zap.String("version", svc.Version),
		zap.Int("answers", answers), zap.Error(err))
}
