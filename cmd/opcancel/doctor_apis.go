package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"cloud.google.com/go/compute/metadata"
	"golang.org/x/oauth2/google"

	"opcancel/lro"
)

// identity is who the checks run as: Application Default Credentials.
type identity struct {
	// member is the IAM member: serviceAccount:…, or user:… as a command.
	member string
	// kind is the credentials' type (service_account, authorized_user, …),
	// or "metadata server".
	kind string
	// quotaProject is the credentials file's quota_project_id.
	quotaProject string
	err          error
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
		d.id.kind = "metadata server"
		email, err := metadata.EmailWithContext(ctx, "default")
		if err != nil {
			d.id.err = err
			return d.id
		}
		d.id.member = "serviceAccount:" + printable(email)
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
		d.id.member = "serviceAccount:" + printable(f.ClientEmail)
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

// userCredentials are the credential types of a person, which Google bills
// to a quota project they must name.
func userCredentials(kind string) bool {
	return kind == "authorized_user" || kind == "external_account_authorized_user"
}

// credentialChecks: with --auth=adc, the credentials are found and, if they
// are a user's, name a quota project.
func (d *doctor) credentialChecks(ctx context.Context) []check {
	c := check{Name: "quota project"}
	if d.cmd.Auth == lro.AuthNone {
		c.Status, c.Detail = checkSkip, "--auth=none sends no credentials"
		return []check{c}
	}
	id := d.identity(ctx)
	switch {
	case id.err != nil:
		c.Status, c.Detail = checkFail, "no Application Default Credentials: "+errText(id.err)
		c.Fix = "gcloud auth application-default login (a workstation), or Workload Identity (docs/deploy.md#iam-for-workload-identity)"
	case !userCredentials(id.kind):
		c.Status, c.Detail = checkSkip, "not user credentials ("+id.kind+"): their own project is billed"
	case d.e.getenv("GOOGLE_CLOUD_QUOTA_PROJECT") != "":
		c.Status, c.Detail = checkOK, "user credentials, quota project "+printable(d.e.getenv("GOOGLE_CLOUD_QUOTA_PROJECT"))+" (GOOGLE_CLOUD_QUOTA_PROJECT)"
	case id.quotaProject != "":
		c.Status, c.Detail = checkOK, "user credentials, quota project "+id.quotaProject
	default:
		c.Status = checkFail
		c.Detail = "user credentials without a quota project: Google APIs bill their requests to gcloud's own project, where the APIs are not enabled"
		c.Fix = "gcloud auth application-default set-quota-project " + d.quotaProjectHint()
	}
	return []check{c}
}

// quotaProjectHint is the project to bill: the worker's.
func (d *doctor) quotaProjectHint() string {
	if p := projectOf(d.subscription); p != "" {
		return p
	}
	return "PROJECT"
}

// serviceChecks: for every enabled service, a token can be minted (its
// scopes, and its subject through domain-wide delegation), and its
// endpoint answers an operations.get of a name that does not exist as
// Google does: NOT_FOUND in Google's error form.
func (d *doctor) serviceChecks(ctx context.Context) []check {
	client, err := lro.New(ctx, d.table, lro.Config{Auth: d.cmd.Auth, RequestTimeout: d.cmd.RequestTimeout, UserAgent: userAgent(),
		QuotaProject: d.e.getenv(quotaProjectEnv)})
	if err != nil {
		return []check{{Name: "credentials", Status: checkFail, Detail: errText(err),
			Fix: "gcloud auth application-default login, or a service account (docs/operations.md#credentials)"}}
	}
	var checks []check
	for _, s := range d.table.Services() {
		checks = append(checks, d.probe(ctx, client, s)...)
	}
	return checks
}

// probe sends operations.get for a made-up name of s and reads the answer
// as a token check and an endpoint check.
func (d *doctor) probe(ctx context.Context, client *lro.Client, s *lro.Service) []check {
	token := check{Name: "token " + s.Host}
	endpoint := check{Name: "endpoint " + s.Host}
	name := probeName(s, projectOf(d.subscription))
	if name == "" {
		endpoint.Status, endpoint.Detail = checkSkip, "no operations.get to ask: the API cannot read its operations"
		token.Status, token.Detail = checkSkip, "not checked without a request to send"
		return []check{token, endpoint}
	}
	_, err := client.Get(ctx, s, name)
	var e *lro.Error
	errors.As(err, &e)
	if d.cmd.Auth == lro.AuthNone {
		token.Status, token.Detail = checkSkip, "--auth=none sends no token"
	} else {
		token = tokenCheck(token, s, e)
	}
	if token.Status == checkFail {
		endpoint.Status, endpoint.Detail = checkSkip, "not checked without a token"
		return []check{token, endpoint}
	}
	return []check{token, endpointCheck(endpoint, s, name, err, e, d.cmd.Config)}
}

// tokenCheck reads the probe's answer e (nil: a success) for the token: a
// request that failed before it was sent for want of a token, or one the
// API rejected (401), means none could be minted or used.
func tokenCheck(c check, s *lro.Service, e *lro.Error) check {
	as := strings.Join(s.Scopes, " ")
	if s.Subject != "" {
		as += ", as " + printable(s.Subject)
	}
	switch {
	case e != nil && e.Code == lro.Unauthenticated && e.HTTPStatus == 0:
		c.Status, c.Detail, c.Fix = checkFail, "no token for "+as+": "+errText(e), tokenFix(s, e)
	case e != nil && e.Code == lro.Unauthenticated:
		c.Status, c.Detail = checkFail, "the API rejected the token for "+as+": "+errText(e)
		c.Fix = "gcloud services enable " + s.Host + " --project=PROJECT (the project of the credentials), then check the service account's roles (docs/operations.md#iam)"
	default:
		c.Status, c.Detail = checkOK, "minted for "+as
	}
	return c
}

// tokenFix says what makes a token mintable, from why it was not.
func tokenFix(s *lro.Service, e *lro.Error) string {
	msg := e.Error()
	switch {
	case s.Subject != "" && strings.Contains(msg, "unauthorized_client"):
		return "in the Workspace admin console (Security > Access and data control > API controls > Domain-wide delegation), allow the service account's client ID the scopes " + strings.Join(s.Scopes, ",")
	case strings.Contains(msg, "iam.serviceAccounts") || strings.Contains(msg, "iamcredentials"):
		return "gcloud services enable iamcredentials.googleapis.com && gcloud iam service-accounts add-iam-policy-binding SA_EMAIL --member=serviceAccount:SA_EMAIL --role=roles/iam.serviceAccountTokenCreator (docs/operations.md#iam)"
	default:
		return "gcloud auth application-default print-access-token shows whether Application Default Credentials work (docs/operations.md#credentials)"
	}
}

// endpointCheck reads the probe's answer: only Google's NOT_FOUND, in its
// error form, says the endpoint is the API.
func endpointCheck(c check, s *lro.Service, name string, err error, e *lro.Error, config string) check {
	fix := "check host " + s.Host + "'s endpoint and version in the services file: opcancel services"
	if config != "" {
		fix += " --config=" + shellWord(config)
	}
	fix += " " + s.Host
	at := fmt.Sprintf("operations.get of %s at %s", name, s.Endpoint)
	switch {
	case err == nil:
		c.Status, c.Detail, c.Fix = checkFail, at+" answered with an operation, for a name that does not exist: not Google's API", fix
	case e == nil:
		c.Status, c.Detail = checkFail, at+": "+errText(err)
	case e.Code == lro.Transport:
		c.Status, c.Detail, c.Fix = checkFail, at+": no answer: "+errText(e), "check the endpoint "+s.Endpoint.String()+" is reachable from here (DNS, egress)"
	case e.NotGoogle:
		c.Status, c.Detail, c.Fix = checkFail, at+" answered by something that is not Google's API: "+errText(e), fix
	case e.Code == lro.NotFound:
		c.Status, c.Detail = checkOK, at+" answered NOT_FOUND, as Google does"
	case e.Code == lro.Unimplemented:
		c.Status, c.Detail, c.Fix = checkFail, at+": Google serves no such method there: "+errText(e), fix
	case e.Code == lro.PermissionDenied:
		c.Status, c.Detail = checkWarn, at+" answered PERMISSION_DENIED: Google's API, but the credentials may lack a role that reads and cancels its operations (docs/operations.md#iam): "+errText(e)
	case lro.Classify(err) == lro.Transient:
		c.Status, c.Detail = checkWarn, at+" answered a transient error, from Google: "+errText(e)
	default:
		c.Status, c.Detail = checkOK, at+" answered in Google's error form: "+errText(e)
	}
	return c
}

// probeName makes a name of one of s's readable patterns that no operation
// has: wildcards become opcancel-doctor (the project where a pattern names
// one, global for a location), and the last a random ID. Empty when s
// cannot read any of its names.
func probeName(s *lro.Service, project string) string {
	var random [6]byte
	rand.Read(random[:])
	id := "opcancel-doctor-" + hex.EncodeToString(random[:])
	for _, pattern := range s.Patterns() {
		segs := strings.Split(pattern, "/")
		for i, seg := range segs {
			if seg != "*" && seg != "**" {
				continue
			}
			prev := ""
			if i > 0 {
				prev = segs[i-1]
			}
			switch {
			case i == len(segs)-1:
				segs[i] = id
			case prev == "projects" && project != "":
				segs[i] = project
			case prev == "locations":
				segs[i] = "global"
			default:
				segs[i] = "opcancel-doctor"
			}
		}
		name := strings.Join(segs, "/")
		if s.Match(name) == nil && s.Readable(name) {
			return name
		}
	}
	return ""
}
