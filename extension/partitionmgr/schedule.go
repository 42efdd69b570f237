package partitionmgr

import (
	"fmt"
	"strings"
	"time"
)

// job is a kind of maintenance run.
type job int

const (
	// createJob creates partitions ahead and moves rows waiting in DEFAULT.
	createJob job = iota
	// expireJob applies retention.
	expireJob
	// rollupJob refreshes the per-minute rollups (rollup.go, its own loop).
	rollupJob
)

func (j job) String() string {
	switch j {
	case expireJob:
		return "expire"
	case rollupJob:
		return "rollup"
	}
	return "create"
}

// schedule tells when each job runs next.
type schedule struct {
	loc      *time.Location
	interval time.Duration // interval mode: both jobs every interval
	createAt clockTime     // daily mode
	expireOn time.Weekday
	expireAt clockTime
}

// clockTime is a time of day.
type clockTime struct{ hour, minute int }

func parseClockTime(s string) (clockTime, error) {
	var c clockTime
	if _, err := fmt.Sscanf(s, "%d:%d", &c.hour, &c.minute); err != nil || c.hour < 0 || c.hour > 23 || c.minute < 0 || c.minute > 59 ||
		len(s) != 5 {
		return c, fmt.Errorf("%q is not a time of day HH:MM", s)
	}
	return c, nil
}

var weekdays = map[string]time.Weekday{
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

func parseWeekday(s string) (time.Weekday, error) {
	d, ok := weekdays[strings.ToLower(s)]
	if !ok {
		return 0, fmt.Errorf("%q is not a day of the week (sunday ... saturday)", s)
	}
	return d, nil
}

// next is the first instant strictly after after at which j runs.
func (s schedule) next(j job, after time.Time) time.Time {
	if s.interval > 0 {
		return after.Add(s.interval)
	}
	local := after.In(s.loc)
	at := s.createAt
	if j == expireJob {
		at = s.expireAt
	}
	y, m, d := local.Date()
	for i := 0; i <= 7; i++ {
		candidate := time.Date(y, m, d+i, at.hour, at.minute, 0, 0, s.loc)
		if !candidate.After(after) {
			continue
		}
		if j == expireJob && candidate.Weekday() != s.expireOn {
			continue
		}
		return candidate
	}
	// Unreachable: within 8 days every weekday comes round.
	return after.Add(24 * time.Hour)
}
