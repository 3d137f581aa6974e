//go:build race

package probe

// raceEnabled: the race detector slows the engine several times over, so
// rate checks that need the full speed are skipped.
const raceEnabled = true
