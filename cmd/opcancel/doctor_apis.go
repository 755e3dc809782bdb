package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"opcancel/lro"
)

// serviceChecks: for every enabled service, a token can be minted (its
// scopes, and its subject through domain-wide delegation), and its
// endpoint answers an operations.get of a name that does not exist as
// Google does: NOT_FOUND in Google's error form.
func (d *doctor) serviceChecks(ctx context.Context) []doctorCheck {
	client, err := lro.New(ctx, d.table, lro.Config{Auth: d.cmd.Auth, RequestTimeout: d.cmd.RequestTimeout, UserAgent: userAgent(),
		QuotaProject: d.e.getenv(quotaProjectEnv)})
	if err != nil {
		return []doctorCheck{{Name: "credentials", Status: checkFail, Detail: errText(err),
			Fix: "gcloud auth application-default login, or a service account (docs/operations.md#credentials)"}}
	}
	var checks []doctorCheck
	for _, s := range d.table.Services() {
		checks = append(checks, d.probe(ctx, client, s)...)
	}
	return checks
}

// probe sends operations.get for a made-up name of s and reads the answer
// as a token check and an endpoint check.
func (d *doctor) probe(ctx context.Context, client *lro.Client, s *lro.Service) []doctorCheck {
	token := doctorCheck{Name: "token " + s.Host}
	endpoint := doctorCheck{Name: "endpoint " + s.Host}
	name := probeName(s, projectOf(d.subscription))
	if name == "" {
		why := "the API cannot read its operations"
		if len(s.Allow) > 0 {
			// A name the doctor cannot make up, such as a literal
			// operation ID, may be a real operation: it is not probed.
			why = "the allow list admits no name the API can read and the doctor may make up (opcancel services " + s.Host + ")"
		}
		endpoint.Status, endpoint.Detail = checkSkip, "no operations.get to ask: "+why
		token.Status, token.Detail = checkSkip, "not checked without a request to send: "+why
		return []doctorCheck{token, endpoint}
	}
	get := func() error { _, err := client.Get(ctx, s, name); return err }
	var err error
	if d.cmd.Auth == lro.AuthADC && d.identity(ctx).kind == metadataServer {
		err = untilAnswered(ctx, d.warmupWindow(), tokenUnanswered, get)
	} else {
		err = get()
	}
	var e *lro.Error
	errors.As(err, &e)
	if err != nil && e == nil {
		// Refused before it was sent: no token was minted, and the
		// endpoint was not asked.
		token.Status, token.Detail = checkSkip, "not checked: the request was refused before it was sent"
		endpoint.Status, endpoint.Detail = checkFail, fmt.Sprintf("operations.get of %s: %s", name, errText(err))
		return []doctorCheck{token, endpoint}
	}
	if d.cmd.Auth == lro.AuthNone {
		token.Status, token.Detail = checkSkip, "--auth=none sends no token"
	} else {
		token = d.tokenCheck(ctx, token, s, e)
	}
	if token.Status != checkOK && token.Status != checkSkip {
		endpoint.Status, endpoint.Detail = checkSkip, "not checked without a token"
		return []doctorCheck{token, endpoint}
	}
	return []doctorCheck{token, d.endpointCheck(ctx, endpoint, s, name, err, e)}
}

// endpointCheck reads the probe's answer: only Google's NOT_FOUND, in its
// error form, says the endpoint is the API.
func (d *doctor) endpointCheck(ctx context.Context, c doctorCheck, s *lro.Service, name string, err error, e *lro.Error) doctorCheck {
	fix := "check host " + s.Host + "'s endpoint and version in the services file: opcancel services"
	if d.cmd.Config != "" {
		fix += " --config=" + shellWord(d.cmd.Config)
	}
	fix += " " + s.Host
	at := fmt.Sprintf("operations.get of %s at %s", name, s.Endpoint)
	switch {
	case err == nil:
		c.Status, c.Detail, c.Fix = checkFail, at+" answered with an operation, for a name that does not exist: not Google's API", fix
	case e == nil:
		c.Status, c.Detail = checkFail, at+": "+errText(err)
	case e.Code == lro.Transport && untrusted(e):
		c.Status, c.Detail, c.Fix = checkFail, at+" answered with a certificate that is not trusted (an intercepting proxy, a wrong endpoint): "+errText(e), fix
	case e.Code == lro.Transport:
		c.Status, c.Detail, c.Fix = d.unanswered(), at+": no answer: "+errText(e), "check the endpoint "+s.Endpoint.String()+" is reachable from here (DNS, egress)"
	case e.NotGoogle:
		c.Status, c.Detail, c.Fix = checkFail, at+" answered by something that is not Google's API: "+errText(e), fix
	case e.Code == lro.NotFound:
		c.Status, c.Detail = checkOK, at+" answered NOT_FOUND, as Google does"
	case e.Code == lro.Unimplemented:
		c.Status, c.Detail, c.Fix = checkFail, at+": Google serves no such method there: "+errText(e), fix
	case e.Code == lro.PermissionDenied && e.Reason == "SERVICE_DISABLED":
		c.Status, c.Detail = checkFail, at+": the API is not enabled in the project billed for the requests: "+errText(e)
		c.Fix = "gcloud services enable " + s.Host + " --project=" + d.consumerProject(ctx, e)
	case e.Code == lro.PermissionDenied:
		c.Status, c.Detail = checkWarn, at+" answered PERMISSION_DENIED: Google's API, but the credentials may lack a role that reads and cancels its operations (docs/operations.md#iam): "+errText(e)
	case lro.Classify(err) == lro.Transient:
		c.Status, c.Detail = checkWarn, at+" answered a transient error, from Google: "+errText(e)
	default:
		c.Status, c.Detail = checkOK, at+" answered in Google's error form: "+errText(e)
	}
	return c
}

// probeName makes a name that no operation has, of one of s's readable
// patterns and inside its allow list (lro.Service.AllowedShapes), so that
// the doctor never asks about a name the deployment may not touch:
// wildcards become opcancel-doctor (the project where a pattern names one,
// global for a location), and the last, the operation's ID, a random one.
// A shape whose ID is literal could name a real operation and is passed
// over. Empty when no name fits.
func probeName(s *lro.Service, project string) string {
	var random [6]byte
	rand.Read(random[:])
	id := "opcancel-doctor-" + hex.EncodeToString(random[:])
	for _, shape := range s.AllowedShapes() {
		if shape[len(shape)-1] != "*" {
			continue
		}
		segs := slices.Clone(shape)
		for i, seg := range segs {
			if seg != "*" {
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
		if s.Match(name) == nil && s.Readable(name) && s.Allowed(name) == nil {
			return name
		}
	}
	return ""
}
