package queue

import (
	"context"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/stats"
)

const streamingPull = "/google.pubsub.v1.Subscriber/StreamingPull"

// streamSettle is how long a streaming pull must stay open before it counts
// as established: a stream to an unreachable server begins and fails within
// milliseconds, and an idle server may send nothing for a long time.
const streamSettle = time.Second

// streamMonitor watches the client's gRPC calls (a stats.Handler) and reports
// whether a streaming pull to a subscription is open.
type streamMonitor struct {
	mu      sync.Mutex
	streams map[*streamTag]time.Time // open streaming pulls and when they began
	now     func() time.Time
}

// streamTag is one streaming pull: the subscription its first request
// names, and whether the server has answered.
type streamTag struct {
	sub      string
	answered bool
}

type tagKey struct{}

func newStreamMonitor() *streamMonitor {
	return &streamMonitor{streams: map[*streamTag]time.Time{}, now: time.Now}
}

// Healthy reports whether at least one streaming pull to the subscription
// sub (a full name) has been open for a while or has received something
// from the server.
func (m *streamMonitor) Healthy(sub string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for tag, began := range m.streams {
		if tag.sub == sub && (tag.answered || now.Sub(began) >= streamSettle) {
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
	switch s := s.(type) {
	case *stats.Begin:
		m.streams[tag] = m.now()
	case *stats.OutPayload:
		if r, ok := s.Payload.(*pubsubpb.StreamingPullRequest); ok && r.GetSubscription() != "" {
			tag.sub = r.GetSubscription()
		}
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
