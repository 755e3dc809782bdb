package request

// Validate checks r as the worker checks the message that r.Encode makes:
// its form and limits (Decode) and the name rules (ValidateName). It returns
// r as the worker reads it, a full name "//host/name" split into Service and
// Name, and on an error the error the worker records as the outcome
// invalid. Whether the service is enabled and the name matches its patterns
// depends on the worker's services file and is not checked here.
func Validate(r Request) (Request, error) {
	// Encode would make bad UTF-8 valid; the worker refuses it.
	if err := r.checkFields(); err != nil {
		return r.checked(), err
	}
	got, err := Decode(r.Encode(), nil)
	if err != nil {
		return got, err
	}
	return got, ValidateName(got.Name)
}
