//go:build !race

package cli

// raceEnabled says the tests run with the race detector.
const raceEnabled = false
