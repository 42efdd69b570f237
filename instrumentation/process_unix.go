//go:build unix

package instrumentation

import (
	"syscall"
	"time"
)

// rusageCPU reads the process's user and system CPU time.
func rusageCPU() (processStats, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return processStats{}, err
	}
	return processStats{cpu: true,
		userSeconds:   time.Duration(ru.Utime.Nano()).Seconds(),
		systemSeconds: time.Duration(ru.Stime.Nano()).Seconds(),
	}, nil
}
