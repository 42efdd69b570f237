package instrumentation

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"strconv"
)

// readProcessStats reads CPU times from getrusage and the resident memory
// and thread count from /proc/self/status.
func readProcessStats() (processStats, error) {
	p, err := rusageCPU()
	status, rerr := os.ReadFile("/proc/self/status")
	if rerr != nil {
		return p, errors.Join(err, rerr)
	}
	var rss, threads int64
	var haveRSS, haveThreads bool
	lines := bufio.NewScanner(bytes.NewReader(status))
	for lines.Scan() {
		key, value, ok := bytes.Cut(lines.Bytes(), []byte{':'})
		if !ok {
			continue
		}
		fields := bytes.Fields(value)
		if len(fields) == 0 {
			continue
		}
		n, perr := strconv.ParseInt(string(fields[0]), 10, 64)
		switch string(key) {
		case "VmRSS": // "VmRSS:	  12345 kB"
			rss, haveRSS = n*1024, perr == nil
		case "Threads":
			threads, haveThreads = n, perr == nil
		}
	}
	if !haveRSS || !haveThreads {
		return p, errors.Join(err, errors.New("/proc/self/status has no VmRSS or Threads line"))
	}
	p.memory, p.residentBytes, p.threads = true, rss, threads
	return p, err
}
