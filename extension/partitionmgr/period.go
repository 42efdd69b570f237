package partitionmgr

import (
	"fmt"
	"time"
)

// Interval is the span of time one partition covers.
type Interval string

const (
	Daily   Interval = "daily"
	Weekly  Interval = "weekly" // ISO weeks, Monday to Monday
	Monthly Interval = "monthly"
)

func (iv Interval) valid() bool { return iv == Daily || iv == Weekly || iv == Monthly }

// Start is the start, in loc, of the period of iv that holds t. Periods begin
// at local midnight, so across a DST change a day lasts 23 or 25 hours.
func (iv Interval) Start(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	y, m, d := t.Date()
	switch iv {
	case Weekly:
		back := (int(t.Weekday()) + 6) % 7 // days since Monday
		return time.Date(y, m, d-back, 0, 0, 0, 0, loc)
	case Monthly:
		return time.Date(y, m, 1, 0, 0, 0, 0, loc)
	}
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// Next is the start of the period after the one starting at start.
func (iv Interval) Next(start time.Time) time.Time {
	y, m, d := start.Date()
	loc := start.Location()
	switch iv {
	case Weekly:
		return time.Date(y, m, d+7, 0, 0, 0, 0, loc)
	case Monthly:
		return time.Date(y, m+1, 1, 0, 0, 0, 0, loc)
	}
	return time.Date(y, m, d+1, 0, 0, 0, 0, loc)
}

// PartitionName names the partition of table for the period starting at
// start: table_p20261126 (daily), table_p2026w48 (weekly, ISO week),
// table_p202611 (monthly).
func (iv Interval) PartitionName(table string, start time.Time) string {
	switch iv {
	case Weekly:
		y, w := start.ISOWeek()
		return fmt.Sprintf("%s_p%04dw%02d", table, y, w)
	case Monthly:
		return fmt.Sprintf("%s_p%04d%02d", table, start.Year(), start.Month())
	}
	return fmt.Sprintf("%s_p%04d%02d%02d", table, start.Year(), start.Month(), start.Day())
}

// period is one partition's range [from, to).
type period struct {
	name     string
	from, to time.Time
}

func (iv Interval) periodOf(table string, t time.Time, loc *time.Location) period {
	from := iv.Start(t, loc)
	return period{name: iv.PartitionName(table, from), from: from, to: iv.Next(from)}
}
