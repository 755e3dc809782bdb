package queuetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

// The emulator keeps serving a streaming pull whose client is gone: when a
// client is killed, or its connection cut, the emulator never learns that
// the stream ended, and it goes on handing that stream whatever becomes
// deliverable (new messages, expired leases, nacks), each leased again for
// the stream's ack deadline. Messages then bounce between the dead stream
// and the live ones for minutes, where Pub/Sub would redeliver them once
// their lease lapses (TestEmulatorEndsTheStreamsOfDepartedClients shows both).
// The emulator does end a stream that its client half-closes, so clients
// reach it through streamProxy, which half-closes a stream on the
// emulator's side once its client is gone.
type streamProxy struct {
	srv      *grpc.Server
	upstream *grpc.ClientConn
	done     chan struct{}

	mu sync.Mutex
	// streams counts, by subscription, the streaming pulls open on the
	// emulator's side.
	streams map[string]int
	// changed is closed, and replaced, whenever streams changes.
	changed chan struct{}
}

// maxMessage bounds one forwarded message; the Pub/Sub client library allows
// 20 MiB answers, and a publish request may be as large.
const maxMessage = 32 << 20

// startProxy forwards every gRPC call made to ln to the emulator at target.
func startProxy(ln net.Listener, target string) (*streamProxy, error) {
	up, err := grpc.NewClient(target,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{}), grpc.MaxCallRecvMsgSize(maxMessage), grpc.MaxCallSendMsgSize(maxMessage)))
	if err != nil {
		return nil, fmt.Errorf("proxy to the emulator: %w", err)
	}
	p := &streamProxy{upstream: up, done: make(chan struct{}), streams: map[string]int{}, changed: make(chan struct{})}
	p.srv = grpc.NewServer(
		grpc.ForceServerCodec(rawCodec{}),
		grpc.MaxRecvMsgSize(maxMessage), grpc.MaxSendMsgSize(maxMessage),
		grpc.UnknownServiceHandler(p.forward))
	go func() {
		defer close(p.done)
		p.srv.Serve(ln) // returns when stop closes the listener
	}()
	return p, nil
}

// stop ends every call and closes the listener.
func (p *streamProxy) stop() {
	p.srv.Stop()
	<-p.done
	p.upstream.Close()
}

// forward relays one call, of any kind, between the client (down) and the
// emulator (up).
func (p *streamProxy) forward(_ any, down grpc.ServerStream) error {
	method, ok := grpc.MethodFromServerStream(down)
	if !ok {
		return errors.New("proxy: no method")
	}
	// The emulator's side of the call outlives the client's, so that it can
	// be half-closed rather than cancelled; it keeps the client's deadline.
	ctx := context.WithoutCancel(down.Context())
	if d, ok := down.Context().Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d)
		defer cancel()
	}
	if md, ok := metadata.FromIncomingContext(down.Context()); ok {
		ctx = metadata.NewOutgoingContext(ctx, md)
	}
	var first *frame
	var sub string
	if method == streamingPull {
		// A streaming pull names its subscription in its first request.
		first = new(frame)
		if err := down.RecvMsg(first); err != nil {
			return err
		}
		var req pubsubpb.StreamingPullRequest
		if err := proto.Unmarshal(first.b, &req); err != nil {
			return fmt.Errorf("proxy: streaming pull request: %w", err)
		}
		sub = req.Subscription
	}
	up, err := p.upstream.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, method)
	if err != nil {
		return err
	}
	if first != nil {
		// Counted once the emulator has the request that opens it, until
		// the emulator ends it; a stream that failed to open relays the
		// emulator's status only.
		if up.SendMsg(first) != nil {
			up.CloseSend()
			return relayAnswers(down, up)
		}
		p.count(sub, 1)
		defer p.count(sub, -1)
	}
	go relayRequests(down, up)
	return relayAnswers(down, up)
}

const streamingPull = "/google.pubsub.v1.Subscriber/StreamingPull"

func (p *streamProxy) count(sub string, delta int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.streams[sub] += delta
	close(p.changed)
	p.changed = make(chan struct{})
}

// openStreams is how many streaming pulls on sub the emulator still serves.
func (p *streamProxy) openStreams(sub string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.streams[sub]
}

// waitStreams waits until the emulator serves n streaming pulls on sub, or
// ctx ends.
func (p *streamProxy) waitStreams(ctx context.Context, sub string, n int) error {
	for {
		p.mu.Lock()
		got, changed := p.streams[sub], p.changed
		p.mu.Unlock()
		if got == n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("%d streaming pulls on %s, want %d: %w", got, sub, n, ctx.Err())
		}
	}
}

// relayRequests copies the client's requests to the emulator until the
// client half-closes or goes; either way the emulator then sees a
// half-close, the end of a stream that it honours.
func relayRequests(down grpc.ServerStream, up grpc.ClientStream) {
	for {
		var f frame
		if down.RecvMsg(&f) != nil || up.SendMsg(&f) != nil {
			break
		}
	}
	up.CloseSend()
}

// relayAnswers copies the emulator's answers to the client until the
// emulator ends the call, and returns its status. Answers to a client that
// is gone are dropped: what they carried stays leased until its deadline,
// as for any message lost in flight.
func relayAnswers(down grpc.ServerStream, up grpc.ClientStream) error {
	clientGone := false
	headerSent := false
	for {
		var f frame
		err := up.RecvMsg(&f)
		if !headerSent && !clientGone {
			if h, herr := up.Header(); herr == nil {
				down.SendHeader(h)
			}
			headerSent = true
		}
		if err != nil {
			down.SetTrailer(up.Trailer())
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if !clientGone && down.SendMsg(&f) != nil {
			clientGone = true
		}
	}
}

// frame is one message, kept as its wire bytes.
type frame struct{ b []byte }

// rawCodec passes messages through without decoding them.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	f, ok := v.(*frame)
	if !ok {
		return nil, fmt.Errorf("proxy codec: %T is not a frame", v)
	}
	return f.b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	f, ok := v.(*frame)
	if !ok {
		return fmt.Errorf("proxy codec: %T is not a frame", v)
	}
	f.b = append(f.b[:0], data...)
	return nil
}

// Name is "proto" so that the content type is the one clients and the
// emulator already speak.
func (rawCodec) Name() string { return "proto" }
