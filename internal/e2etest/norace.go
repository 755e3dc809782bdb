//go:build !race

package e2etest

// raceEnabled: see race.go.
const raceEnabled = false
