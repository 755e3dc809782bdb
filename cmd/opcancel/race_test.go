//go:build race

package main

// raceEnabled reports that the test binary was built with -race; binary
// then builds opcancel with -race too, which reuses the packages the test
// build compiled (instead of compiling every dependency a second time) and
// runs the end-to-end tests' workers under the race detector.
const raceEnabled = true
