package lro

import (
	"fmt"

	"opcancel/request"
)

// ErrInvalid marks every validation failure: of a name, a host, a template or a
// route. Such a failure never produces a request. It is request.ErrInvalid,
// so that a name refused by the name rules is invalid in both packages' terms.
var ErrInvalid = request.ErrInvalid

// invalidf returns a validation error wrapping ErrInvalid.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}
