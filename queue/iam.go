package queue

import (
	"context"
	"fmt"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"
)

// Permissions returns those of perms that the caller holds on resource, a
// topic's or a subscription's full name (TestIamPermissions: the caller
// needs no permission to ask). A resource that does not exist is an error
// with the code NotFound.
func (c *Client) Permissions(ctx context.Context, resource string, perms []string) ([]string, error) {
	req := &iampb.TestIamPermissionsRequest{Resource: resource, Permissions: perms}
	var (
		resp *iampb.TestIamPermissionsResponse
		err  error
	)
	if isSubscription(resource) {
		resp, err = c.ps.SubscriptionAdminClient.TestIamPermissions(ctx, req)
	} else {
		resp, err = c.ps.TopicAdminClient.TestIamPermissions(ctx, req)
	}
	if err != nil {
		return nil, fmt.Errorf("test permissions on %s: %w", resource, err)
	}
	return resp.GetPermissions(), nil
}

// Bindings returns the IAM policy of resource (a topic's or a
// subscription's full name) as role → members. Reading it needs
// pubsub.topics.getIamPolicy or pubsub.subscriptions.getIamPolicy.
func (c *Client) Bindings(ctx context.Context, resource string) (map[string][]string, error) {
	req := &iampb.GetIamPolicyRequest{Resource: resource}
	var (
		p   *iampb.Policy
		err error
	)
	if isSubscription(resource) {
		p, err = c.ps.SubscriptionAdminClient.GetIamPolicy(ctx, req)
	} else {
		p, err = c.ps.TopicAdminClient.GetIamPolicy(ctx, req)
	}
	if err != nil {
		return nil, fmt.Errorf("read the IAM policy of %s: %w", resource, err)
	}
	out := map[string][]string{}
	for _, b := range p.GetBindings() {
		out[b.GetRole()] = append(out[b.GetRole()], b.GetMembers()...)
	}
	return out, nil
}

func isSubscription(resource string) bool { return strings.Contains(resource, "/subscriptions/") }
