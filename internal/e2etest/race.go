//go:build race

package e2etest

// raceEnabled reports that the tests were built with -race; Binary then
// builds opcancel with -race too.
const raceEnabled = true
