package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"cloud.google.com/go/compute/metadata"

	"opcancel/lro"
)

// tokenCheck reads the probe's answer e (nil: a success) for the token: a
// request that failed before it was sent for want of a token, or one the
// API rejected (401), means none could be minted or used.
func (d *doctor) tokenCheck(ctx context.Context, c doctorCheck, s *lro.Service, e *lro.Error) doctorCheck {
	as := strings.Join(s.Scopes, " ")
	if s.Subject != "" {
		as += ", as " + printable(s.Subject)
	}
	switch {
	case tokenUnanswered(e):
		c.Status, c.Detail = d.unanswered(), "no token for "+as+": the token endpoint did not answer: "+errText(e)
		c.Fix = "check the token endpoint is reachable from here (on GKE the metadata server, 169.254.169.254:80 and 169.254.169.252:988: docs/deploy.md#network-policy)"
	case e != nil && e.Code == lro.Unauthenticated && e.HTTPStatus == 0:
		c.Status, c.Detail, c.Fix = checkFail, "no token for "+as+": "+errText(e), d.tokenFix(ctx, s, e)
	case e != nil && e.Code == lro.Unauthenticated:
		c.Status, c.Detail = checkFail, "the API rejected the token for "+as+": "+errText(e)
		c.Fix = d.rejectedTokenFix(ctx, s)
	default:
		c.Status, c.Detail = checkOK, "minted for "+as
	}
	return c
}

// tokenFix says what makes a token mintable, from why it was not.
func (d *doctor) tokenFix(ctx context.Context, s *lro.Service, e *lro.Error) string {
	msg := e.Error()
	id := d.identity(ctx)
	var refused *metadata.Error
	switch {
	case s.Subject != "" && strings.Contains(msg, "unauthorized_client"):
		return "in the Workspace admin console (Security > Access and data control > API controls > Domain-wide delegation), allow the service account's client ID the scopes " + strings.Join(s.Scopes, ",")
	case id.kind == metadataServer && (errors.As(e, &refused) && refused.Code == http.StatusForbidden || strings.Contains(msg, "getAccessToken")):
		// The metadata server's own token, before any delegation.
		return d.workloadIdentityFix(id)
	case s.Subject != "" && id.kind == metadataServer:
		// Keyless delegation: the service account signs the JWT through
		// the IAM Credentials API (docs/operations.md#iam).
		sa := serviceAccountOr(id, "SA_EMAIL")
		return fmt.Sprintf("gcloud services enable iamcredentials.googleapis.com --project=%s && gcloud iam service-accounts add-iam-policy-binding %s --member=serviceAccount:%s --role=roles/iam.serviceAccountTokenCreator (docs/operations.md#iam)",
			d.billedProject(ctx), sa, sa)
	case id.kind == "impersonated_service_account" && strings.Contains(msg, "getAccessToken"):
		return "grant the impersonating identity roles/iam.serviceAccountTokenCreator on the impersonated service account: gcloud iam service-accounts add-iam-policy-binding TARGET_SA --member=MEMBER --role=roles/iam.serviceAccountTokenCreator"
	default:
		return "gcloud auth application-default print-access-token shows whether Application Default Credentials work (docs/operations.md#credentials)"
	}
}

// workloadIdentityFix binds the pod's Kubernetes service account to the
// Google service account the metadata server names (the production
// component's annotation), for the pod's namespace and service account as
// the doctor component passes them (POD_NAMESPACE, POD_SERVICE_ACCOUNT).
func (d *doctor) workloadIdentityFix(id *identity) string {
	pool := "PROJECT"
	if id.project != "" {
		pool = id.project
	}
	ns, ksa := d.podEnv("POD_NAMESPACE", "NAMESPACE"), d.podEnv("POD_SERVICE_ACCOUNT", "KSA")
	fix := fmt.Sprintf(`gcloud iam service-accounts add-iam-policy-binding %s --role=roles/iam.workloadIdentityUser --member="serviceAccount:%s.svc.id.goog[%s/%s]"`,
		serviceAccountOr(id, "SA_EMAIL"), pool, ns, ksa)
	if !isServiceAccount(id.email) {
		// The metadata server names no Google service account: the
		// Kubernetes one is not annotated with it.
		fix = fmt.Sprintf("kubectl -n %s annotate serviceaccount %s iam.gke.io/gcp-service-account=SA_EMAIL && %s", ns, ksa, fix)
	}
	return fix + " (docs/deploy.md#iam-for-workload-identity)"
}

// podName is a Kubernetes name (a DNS label or subdomain).
var podName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)

// podEnv is the variable name's value, a Kubernetes name, or placeholder.
func (d *doctor) podEnv(name, placeholder string) string {
	if v := d.e.getenv(name); podName.MatchString(v) {
		return v
	}
	return placeholder
}

// isServiceAccount reports whether email is a Google service account's.
func isServiceAccount(email string) bool {
	return strings.HasSuffix(email, ".gserviceaccount.com") && !strings.ContainsAny(email, " '\"$`\\")
}

// serviceAccountOr is the identity's service account, or placeholder.
func serviceAccountOr(id *identity, placeholder string) string {
	if isServiceAccount(id.email) {
		return id.email
	}
	return placeholder
}

// rejectedTokenFix: the API answered 401 to a token that was minted, so
// it is expired, revoked, of a disabled key, or not meant for the API.
func (d *doctor) rejectedTokenFix(ctx context.Context, s *lro.Service) string {
	keys := ""
	if id := d.identity(ctx); id.kind == "service_account" {
		keys = "; a key file's key may be disabled or deleted: gcloud iam service-accounts keys list --iam-account=" + serviceAccountOr(id, "SA_EMAIL")
	}
	return "gcloud auth application-default print-access-token shows whether the credentials still give a token" + keys +
		"; the token's scopes are the services file's: opcancel services " + s.Host + " (docs/operations.md#credentials)"
}

// projectNumber is the project Google names in a SERVICE_DISABLED message.
var projectNumber = regexp.MustCompile(`\bprojects?[ /](\d{1,20})\b`)

// consumerProject is the project in which an API is not enabled: the one
// Google's answer names, else the one the requests are billed to.
func (d *doctor) consumerProject(ctx context.Context, e *lro.Error) string {
	if m := projectNumber.FindStringSubmatch(e.Message); m != nil {
		return m[1]
	}
	return d.billedProject(ctx)
}
