//go:build unix && !linux

package instrumentation

// readProcessStats reads the CPU times; resident memory and threads are
// read on Linux only.
func readProcessStats() (processStats, error) { return rusageCPU() }
