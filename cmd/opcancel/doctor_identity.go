package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"cloud.google.com/go/compute/metadata"
	"golang.org/x/oauth2/google"

	"opcancel/lro"
)

// metadataServer is the kind of credentials with no file: the metadata
// server's (GKE Workload Identity, Compute Engine).
const metadataServer = "metadata server"

// identity is who the checks run as: Application Default Credentials.
type identity struct {
	// member is the IAM member: serviceAccount:…, or user:… as a command.
	member string
	// kind is the credentials' type (service_account, authorized_user, …),
	// or metadataServer.
	kind string
	// email is the service account's address, where there is one.
	email string
	// quotaProject is the credentials file's quota_project_id.
	quotaProject string
	// project is the metadata server's project: on GKE, the cluster's,
	// whose workload identity pool is PROJECT.svc.id.goog.
	project string
	err     error
	// unanswered: err is the metadata server not answering.
	unanswered bool
}

// identity finds the Application Default Credentials once.
func (d *doctor) identity(ctx context.Context) *identity {
	if d.id != nil {
		return d.id
	}
	d.id = &identity{}
	ctx, cancel := context.WithTimeout(ctx, d.cmd.RequestTimeout)
	defer cancel()
	creds, err := google.FindDefaultCredentials(ctx, "https://www.googleapis.com/auth/cloud-platform")
	if err != nil {
		d.id.err = err
		return d.id
	}
	if creds.JSON == nil {
		d.id.kind = metadataServer
		var email string
		err := untilAnswered(ctx, d.warmupWindow(), noAnswer, func() (err error) {
			email, err = metadata.EmailWithContext(ctx, "default")
			return err
		})
		if err != nil {
			d.id.err, d.id.unanswered = err, noAnswer(err)
			return d.id
		}
		d.id.email = printable(email)
		d.id.member = "serviceAccount:" + d.id.email
		if p, err := metadata.ProjectIDWithContext(ctx); err == nil {
			d.id.project = printable(p)
		}
		return d.id
	}
	var f struct {
		Type         string `json:"type"`
		ClientEmail  string `json:"client_email"`
		QuotaProject string `json:"quota_project_id"`
	}
	if err := json.Unmarshal(creds.JSON, &f); err != nil {
		d.id.err = fmt.Errorf("credentials file: %w", err)
		return d.id
	}
	d.id.kind, d.id.quotaProject = printable(f.Type), printable(f.QuotaProject)
	switch {
	case f.ClientEmail != "":
		d.id.email = printable(f.ClientEmail)
		d.id.member = "serviceAccount:" + d.id.email
	case strings.HasSuffix(f.Type, "authorized_user"):
		d.id.member = "user:$(gcloud config get-value account)"
	}
	return d.id
}

// member is the identity's IAM member, or MEMBER when it is not known.
func (d *doctor) member(ctx context.Context) string {
	if m := d.identity(ctx).member; m != "" {
		return m
	}
	return "MEMBER"
}

// credentialsCheck: the credentials Pub/Sub (unless the emulator) and the
// APIs (unless --auth=none) use are found.
func (d *doctor) credentialsCheck(ctx context.Context) doctorCheck {
	c := doctorCheck{Name: "credentials"}
	if d.cmd.Auth == lro.AuthNone && d.emulator != "" {
		c.Status, c.Detail = checkSkip, "--auth=none and the Pub/Sub emulator (PUBSUB_EMULATOR_HOST): no credentials are used"
		return c
	}
	id := d.identity(ctx)
	switch {
	case id.unanswered:
		c.Status, c.Detail = d.unanswered(), "the metadata server did not answer: "+errText(id.err)
		c.Fix = "let the pod reach the GKE metadata server (169.254.169.254:80, 169.254.169.252:988: docs/deploy.md#network-policy)"
	case id.err != nil:
		c.Status, c.Detail = checkFail, "no Application Default Credentials: "+errText(id.err)
		c.Fix = "gcloud auth application-default login (a workstation), or Workload Identity (docs/deploy.md#iam-for-workload-identity)"
	default:
		c.Status, c.Detail = checkOK, "Application Default Credentials: "+id.kind
		if id.email != "" {
			c.Detail += ", " + id.email
		}
	}
	return c
}

// userCredentials are the credential types of a person, which Google bills
// to a quota project they must name.
func userCredentials(kind string) bool {
	return kind == "authorized_user" || kind == "external_account_authorized_user"
}

// quotaProjectCheck: with --auth=adc, user credentials name a quota
// project.
func (d *doctor) quotaProjectCheck(ctx context.Context) doctorCheck {
	c := doctorCheck{Name: "quota project"}
	if d.cmd.Auth == lro.AuthNone {
		c.Status, c.Detail = checkSkip, "--auth=none sends no credentials"
		return c
	}
	id := d.identity(ctx)
	switch {
	case id.err != nil:
		c.Status, c.Detail = checkSkip, "not checked without credentials"
	case !userCredentials(id.kind):
		c.Status, c.Detail = checkSkip, "not user credentials ("+id.kind+"): their own project is billed"
	case d.e.getenv(quotaProjectEnv) != "":
		c.Status, c.Detail = checkOK, "user credentials, quota project "+printable(d.e.getenv(quotaProjectEnv))+" ("+quotaProjectEnv+")"
	case id.quotaProject != "":
		c.Status, c.Detail = checkOK, "user credentials, quota project "+id.quotaProject
	default:
		c.Status = checkFail
		c.Detail = "user credentials without a quota project: Google APIs bill their requests to gcloud's own project, where the APIs are not enabled"
		c.Fix = "gcloud auth application-default set-quota-project " + d.quotaProjectHint()
	}
	return c
}

// quotaProjectHint is the project to bill: the worker's.
func (d *doctor) quotaProjectHint() string {
	if p := projectOf(d.subscription); p != "" {
		return p
	}
	return "PROJECT"
}

// billedProject is the project Google bills the APIs' requests to, as far
// as the credentials tell: the quota project, else a service account's own
// project, else the metadata server's; PROJECT when none is known.
func (d *doctor) billedProject(ctx context.Context) string {
	id := d.identity(ctx)
	if p := d.e.getenv(quotaProjectEnv); p != "" {
		return shellWord(printable(p))
	}
	if id.quotaProject != "" {
		return shellWord(id.quotaProject)
	}
	if _, domain, ok := strings.Cut(id.email, "@"); ok && strings.HasSuffix(domain, ".iam.gserviceaccount.com") {
		return shellWord(strings.TrimSuffix(domain, ".iam.gserviceaccount.com"))
	}
	if id.project != "" {
		return shellWord(id.project)
	}
	return "PROJECT"
}
