package worker

import (
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"

	"opcancel/lro"
)

// misdirectedLogEvery is how often, at most, a service's misdirected
// answers are logged: a wrong endpoint or version, or a proxy in the way,
// answers every request so, and one line a minute says it as well as one a
// message.
const misdirectedLogEvery = time.Minute

// misdirection is one service's record of answers that are not recognisably
// Google's (lro.Misdirected): they are counted at once and logged at most
// once every misdirectedLogEvery.
type misdirection struct {
	mu       sync.Mutex
	lastLog  time.Time
	unlogged int // answers since the last log line
}

// misdirected counts an answer of svc that is not recognisably Google's,
// whatever its status, and logs the likely misconfiguration when the last
// such line is old enough. Such an answer says nothing about the operation
// (lro.Classify: transient): the request is retried, then its delivery
// nacked, never acked on it; see docs/runbooks/OpcancelMisdirectedRequests.md.
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
	var e *lro.Error
	errors.As(err, &e) // lro.Misdirected(err) holds: e is set
	w.log.Warn("requests answered by something that is not recognisably Google's API (no Google error body, not the Google front end's own page): check the service's endpoint and version in the services file, and any proxy, gateway or service mesh on the way; these requests are retried and their messages nacked, never acked on such an answer",
		zap.String("service", svc.Host), zap.String("endpoint", svc.Endpoint.String()), zap.String("version", svc.Version),
		zap.Int("status", e.HTTPStatus), zap.Int("answers", answers), zap.Error(err))
}
