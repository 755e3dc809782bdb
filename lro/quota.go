package lro

import (
	"encoding/json"
	"fmt"
	"regexp"
)

// quotaProjectHeader names the project billed for a request's quota.
// Without it, a request made with user credentials is billed to the
// project of gcloud's own OAuth client, where a client-based API is not
// enabled: it fails, with an error that does not say why.
const quotaProjectHeader = "X-Goog-User-Project"

// quotaProjectPattern is what a project ID (or a legacy domain-scoped one,
// example.com:project) or a project number looks like. Anything else is
// refused rather than sent in a header.
var quotaProjectPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9.:-]{0,99}$`)

// quotaProjectOf returns the quota project of the credentials file js:
// override (GOOGLE_CLOUD_QUOTA_PROJECT) when set, else the file's
// quota_project_id, which "gcloud auth application-default login" and
// "set-quota-project" write. That is the order of Google's auth libraries.
// User credentials with neither are an error that says what to run; other
// credentials (a service account, the metadata server) bill their own
// project.
func quotaProjectOf(js []byte, override string) (string, error) {
	if override != "" {
		return override, nil // checked by New
	}
	var f struct {
		Type         string `json:"type"`
		QuotaProject string `json:"quota_project_id"`
	}
	if js != nil && json.Unmarshal(js, &f) != nil {
		return "", fmt.Errorf("credentials file is not JSON")
	}
	switch {
	case f.QuotaProject != "":
		return f.QuotaProject, checkQuotaProject(f.QuotaProject, "the credentials' quota_project_id")
	case f.Type == "authorized_user" || f.Type == "external_account_authorized_user":
		return "", fmt.Errorf(`user credentials (%s) have no quota project, which Google APIs need to bill their requests to: `+
			`run "gcloud auth application-default set-quota-project PROJECT" with a project that has the APIs enabled, or set GOOGLE_CLOUD_QUOTA_PROJECT`, f.Type)
	}
	return "", nil
}

// checkQuotaProject refuses a quota project that is not a project ID or
// number; source says where it came from.
func checkQuotaProject(project, source string) error {
	if quotaProjectPattern.MatchString(project) {
		return nil
	}
	return fmt.Errorf("quota project %q (%s): not a project ID or number", Clip(project, 100), source)
}
