package lro

import (
	"net/http"
	"time"
)

// Exported for the tests of package lro_test, which need lrotest (itself an
// importer of lro).

// DelegatedTokenSource is delegatedTokenSource.
var DelegatedTokenSource = delegatedTokenSource

// TokenFetchTimeout is tokenFetchTimeout.
const TokenFetchTimeout = tokenFetchTimeout

// ParseError is parseError at the present time, with no headers.
func ParseError(status int, body []byte) *Error {
	return parseError(status, http.Header{}, body, time.Now())
}
