package worker

// Outcome is how a delivery ended (see docs/contract.md#outcomes). Every
// delivery ends in exactly one.
type Outcome string

// The outcomes, in the order of docs/contract.md#outcomes.
const (
	Cancelled      Outcome = "cancelled"
	Completed      Outcome = "completed"
	Failed         Outcome = "failed"
	DoneNoResult   Outcome = "done_no_result"
	Unverified     Outcome = "unverified"
	NotCancellable Outcome = "not_cancellable"
	Unimplemented  Outcome = "unimplemented"
	NotFound       Outcome = "not_found"
	Denied         Outcome = "denied"
	Rejected       Outcome = "rejected"
	Invalid        Outcome = "invalid"
	Forbidden      Outcome = "forbidden"
	Duplicate      Outcome = "duplicate"
	RetryExhausted Outcome = "retry_exhausted"
	Interrupted    Outcome = "interrupted"
)

// Outcomes lists every outcome in the order of docs/contract.md#outcomes.
func Outcomes() []Outcome {
	return []Outcome{Cancelled, Completed, Failed, DoneNoResult, Unverified,
		NotCancellable, Unimplemented, NotFound, Denied, Rejected, Invalid,
		Forbidden, Duplicate, RetryExhausted, Interrupted}
}

// Acks reports whether the outcome acks its delivery; retry_exhausted and
// interrupted nack it so that it is delivered again.
func (o Outcome) Acks() bool {
	return o != RetryExhausted && o != Interrupted
}

// warns reports whether the outcome is logged at warn rather than info.
func (o Outcome) warns() bool {
	switch o {
	case RetryExhausted, Invalid, Forbidden, Denied, Rejected:
		return true
	}
	return false
}

// Stopped reports whether the outcome means that the operation is no longer
// running: cancelled, finished anyway (completed, failed, done_no_result),
// or not there (not_found). The others leave it running or unknown: the
// cancel was refused (not_cancellable, unimplemented, denied, rejected),
// sent but not confirmed (unverified), or not sent (invalid, forbidden,
// duplicate).
// `submit --wait` exits 0 only when every name ended so (see
// docs/contract.md#opcancel-submit).
func (o Outcome) Stopped() bool {
	switch o {
	case Cancelled, Completed, Failed, DoneNoResult, NotFound:
		return true
	}
	return false
}

// final reports whether the outcome is an operation's final state, found by
// a get that showed it done: a state that never changes, which the worker
// remembers (see memory).
func (o Outcome) final() bool {
	switch o {
	case Cancelled, Completed, Failed, DoneNoResult:
		return true
	}
	return false
}
