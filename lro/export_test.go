package lro

// Exported for the tests of package lro_test, which need lrotest (itself an
// importer of lro).

// DelegatedTokenSource is delegatedTokenSource.
var DelegatedTokenSource = delegatedTokenSource

// TokenFetchTimeout is tokenFetchTimeout.
const TokenFetchTimeout = tokenFetchTimeout
