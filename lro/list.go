package lro

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// ListQuery is what an operations.list request asks besides its parent.
type ListQuery struct {
	// PageToken is the page to list: "" for the first, else the previous
	// page's NextPageToken.
	PageToken string
	// PageSize is how many operations a page holds at most; 0 leaves it to
	// the server.
	PageSize int
	// Filter is the API's own filter expression (AIP-160, e.g.
	// `metadata.@type="type.googleapis.com/google.cloud.aiplatform.v1.CreateDatasetOperationMetadata"`),
	// passed through as it is; "" lists everything. Check it with
	// ValidateFilter.
	Filter string
}

// MaxFilterBytes bounds a ListQuery's Filter: far longer than any filter
// a person writes, well within what a URL can carry.
const MaxFilterBytes = 2048

// ValidateFilter checks a filter for operations.list. Its syntax is the
// API's to judge (AIP-160, and each API's own fields); opcancel only
// refuses what no filter has: more than MaxFilterBytes, text that is not
// UTF-8, and control characters.
func ValidateFilter(filter string) error {
	switch {
	case len(filter) > MaxFilterBytes:
		return invalidf("filter of %d bytes: at most %d", len(filter), MaxFilterBytes)
	case !utf8.ValidString(filter):
		return invalidf("filter is not UTF-8")
	}
	for _, r := range filter {
		if unicode.IsControl(r) {
			return invalidf("filter has the control character %U", r)
		}
	}
	return nil
}

// Filterable reports whether the dialect's operations.list takes a filter:
// the google.longrunning dialects do; Cloud SQL's (instance only) and
// GKE's (none) do not.
func (d Dialect) Filterable() bool {
	return d == DialectAIP || d == DialectStorage
}

// List sends operations.list for the collection parent: GET
// {endpoint}/{prefix}{parent}?filter=…&pageSize=…&pageToken=….
func (c *Client) List(ctx context.Context, svc *Service, parent string, q ListQuery) (*ListPage, error) {
	if err := c.own(svc); err != nil {
		return nil, err
	}
	r, err := svc.listRoute(parent)
	if err == nil {
		err = svc.AllowedParent(parent)
	}
	if err != nil {
		return nil, err
	}
	v := url.Values{}
	if q.Filter != "" {
		if !svc.Dialect.Filterable() {
			return nil, invalidf("the operations.list of %s (%s dialect) takes no filter", svc.Host, svc.Dialect)
		}
		if err := ValidateFilter(q.Filter); err != nil {
			return nil, err
		}
		v.Set("filter", q.Filter)
	}
	if q.PageToken != "" {
		v.Set("pageToken", q.PageToken)
	}
	if q.PageSize > 0 {
		v.Set("pageSize", strconv.Itoa(q.PageSize))
	}
	body, err := c.do(ctx, svc, methodList, http.MethodGet, c.url(svc, r, parent+"/x", parent, v))
	if err != nil {
		return nil, err
	}
	page, err := svc.Dialect.decodeListPage(body, parent)
	if err != nil {
		return nil, &Error{HTTPStatus: http.StatusOK, Code: Unknown, Message: "malformed operations list in answer: " + err.Error()}
	}
	return page, nil
}
