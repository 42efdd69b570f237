//go:build !unix

package instrumentation

// readProcessStats has nothing to read on this platform: the runtime
// metrics come without process.* ones.
func readProcessStats() (processStats, error) { return processStats{}, nil }
