package queue

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc/stats"
)

const streamingPull = "/google.pubsub.v1.Subscriber/StreamingPull"

// streamSettle is how long a streaming pull must stay open before it counts
// as established: a stream to an unreachable server begins and fails within
// milliseconds, and an idle server may send nothing for a long time.
const streamSettle = time.Second

// streamMonitor watches the client's gRPC calls (a stats.Handler) and reports
// whether a streaming pull is open.
type streamMonitor struct {
	mu      sync.Mutex
	streams map[*streamTag]time.Time // open streaming pulls and when they began
	now     func() time.Time
}

type streamTag struct{ answered bool }

type tagKey struct{}

func newStreamMonitor() *streamMonitor {
	return &streamMonitor{streams: map[*streamTag]time.Time{}, now: time.Now}
}

// Healthy reports whether at least one streaming pull has been open for a
// while or has received something from the server.
func (m *streamMonitor) Healthy() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for tag, began := range m.streams {
		if tag.answered || now.Sub(began) >= streamSettle {
			return true
		}
	}
	return false
}

func (m *streamMonitor) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	if info.FullMethodName != streamingPull {
		return ctx
	}
	return context.WithValue(ctx, tagKey{}, &streamTag{})
}

func (m *streamMonitor) HandleRPC(ctx context.Context, s stats.RPCStats) {
	tag, ok := ctx.Value(tagKey{}).(*streamTag)
	if !ok {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch s.(type) {
	case *stats.Begin:
		m.streams[tag] = m.now()
	case *stats.InHeader, *stats.InPayload:
		tag.answered = true
	case *stats.End:
		delete(m.streams, tag)
	}
}

func (m *streamMonitor) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}

func (m *streamMonitor) HandleConn(context.Context, stats.ConnStats) {}
