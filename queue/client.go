package queue

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/option"
	"google.golang.org/api/option/internaloption"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// ClientConfig says how to reach Pub/Sub.
type ClientConfig struct {
	// Project is the default project for IDs that are not full names.
	Project string
	// EmulatorHost, when set (from PUBSUB_EMULATOR_HOST), connects to an
	// emulator without TLS or credentials, as the client library does.
	EmulatorHost string
	// Options are extra client options (tests, the demo's in-process server).
	Options []option.ClientOption
	// Tracing turns on the client's OpenTelemetry tracing, through the
	// global tracer provider: a published message carries its span's
	// context in its attributes, and a received one continues that trace.
	Tracing bool
}

// Client is a Pub/Sub client with a monitor of its streaming pulls.
type Client struct {
	ps      *pubsub.Client
	monitor *streamMonitor
}

// NewClient connects to Pub/Sub.
func NewClient(ctx context.Context, cfg ClientConfig) (*Client, error) {
	if cfg.Project == "" {
		return nil, fmt.Errorf("pubsub: no project")
	}
	mon := newStreamMonitor()
	opts := []option.ClientOption{option.WithGRPCDialOption(grpc.WithStatsHandler(mon))}
	if cfg.EmulatorHost != "" {
		opts = append(opts,
			option.WithEndpoint(cfg.EmulatorHost),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
			option.WithoutAuthentication(),
			option.WithTelemetryDisabled(),
			internaloption.SkipDialSettingsValidation(),
		)
	}
	opts = append(opts, cfg.Options...)
	c, err := pubsub.NewClientWithConfig(ctx, cfg.Project, &pubsub.ClientConfig{EnableOpenTelemetryTracing: cfg.Tracing}, opts...)
	if err != nil {
		return nil, fmt.Errorf("pubsub client: %w", err)
	}
	return &Client{ps: c, monitor: mon}, nil
}

// Close closes the connection to Pub/Sub.
func (c *Client) Close() error { return c.ps.Close() }

// CreateTopic creates a topic; topic is its full name.
func (c *Client) CreateTopic(ctx context.Context, topic string) error {
	if _, err := c.ps.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}

// CreateSubscription creates the subscription sub to topic (full names)
// with the given ack deadline.
func (c *Client) CreateSubscription(ctx context.Context, sub, topic string, ackDeadline time.Duration) error {
	s := &pubsubpb.Subscription{Name: sub, Topic: topic, AckDeadlineSeconds: int32(ackDeadline / time.Second)}
	if _, err := c.ps.SubscriptionAdminClient.CreateSubscription(ctx, s); err != nil {
		return fmt.Errorf("create subscription %s: %w", sub, err)
	}
	return nil
}

// Pub/Sub resource IDs: a letter, then letters, digits and - _ . ~ + %,
// 3 to 255 characters, not starting with "goog".
var resourceID = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$`)

// ErrNoProject means an ID was given without a project to complete it.
var ErrNoProject = errors.New("no project")

// ResourceName returns the full name projects/P/{kind}/ID for an ID or a full
// name, and checks it. kind is "topics" or "subscriptions".
func ResourceName(project, kind, idOrName string) (string, error) {
	id, proj := idOrName, project
	if strings.HasPrefix(idOrName, "projects/") {
		parts := strings.Split(idOrName, "/")
		if len(parts) != 4 || parts[2] != kind {
			return "", fmt.Errorf("%q: want an ID or projects/PROJECT/%s/ID", idOrName, kind)
		}
		proj, id = parts[1], parts[3]
	}
	if proj == "" {
		return "", fmt.Errorf("%q: %w: give one, or a full name projects/PROJECT/%s/ID", idOrName, ErrNoProject, kind)
	}
	if !resourceID.MatchString(id) || strings.HasPrefix(id, "goog") {
		return "", fmt.Errorf("%q: an ID is 3-255 characters, starts with a letter, uses letters, digits and - _ . ~ + %%, and does not start with \"goog\"", id)
	}
	return "projects/" + proj + "/" + kind + "/" + id, nil
}
