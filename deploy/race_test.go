//go:build race

package deploy

// raceEnabled reports that the test binary was built with -race; binary
// then builds opcancel with -race too, which reuses the packages the test
// build compiled and runs the worker under the race detector.
const raceEnabled = true
