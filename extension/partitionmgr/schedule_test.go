package partitionmgr

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

func TestPeriods(t *testing.T) {
	berlin := mustLoad(t, "Europe/Berlin")
	tests := []struct {
		name     string
		iv       Interval
		at       time.Time
		loc      *time.Location
		want     string
		from, to string // RFC 3339
	}{
		{name: "daily UTC", iv: Daily, at: time.Date(2026, 11, 26, 23, 59, 0, 0, time.UTC), loc: time.UTC,
			want: "t_p20261126", from: "2026-11-26T00:00:00Z", to: "2026-11-27T00:00:00Z"},
		{name: "daily across a month", iv: Daily, at: time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC), loc: time.UTC,
			want: "t_p20260131", from: "2026-01-31T00:00:00Z", to: "2026-02-01T00:00:00Z"},
		{name: "daily, Berlin: UTC evening is the next local day", iv: Daily, at: time.Date(2026, 11, 26, 23, 30, 0, 0, time.UTC), loc: berlin,
			want: "t_p20261127", from: "2026-11-27T00:00:00+01:00", to: "2026-11-28T00:00:00+01:00"},
		{name: "daily, Berlin, DST starts: 23 hours", iv: Daily, at: time.Date(2026, 3, 29, 12, 0, 0, 0, berlin), loc: berlin,
			want: "t_p20260329", from: "2026-03-29T00:00:00+01:00", to: "2026-03-30T00:00:00+02:00"},
		{name: "daily, Berlin, DST ends: 25 hours", iv: Daily, at: time.Date(2026, 10, 25, 12, 0, 0, 0, berlin), loc: berlin,
			want: "t_p20261025", from: "2026-10-25T00:00:00+02:00", to: "2026-10-26T00:00:00+01:00"},
		{name: "weekly: ISO week from Monday", iv: Weekly, at: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC), loc: time.UTC,
			want: "t_p2026w48", from: "2026-11-23T00:00:00Z", to: "2026-11-30T00:00:00Z"},
		{name: "weekly across a year", iv: Weekly, at: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), loc: time.UTC,
			want: "t_p2026w53", from: "2026-12-28T00:00:00Z", to: "2027-01-04T00:00:00Z"},
		{name: "monthly, Berlin", iv: Monthly, at: time.Date(2026, 3, 31, 23, 30, 0, 0, time.UTC), loc: berlin,
			want: "t_p202604", from: "2026-04-01T00:00:00+02:00", to: "2026-05-01T00:00:00+02:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.iv.periodOf("t", tt.at, tt.loc)
			assert.Equal(t, []string{tt.want, tt.from, tt.to}, []string{p.name, p.from.Format(time.RFC3339), p.to.Format(time.RFC3339)})
		})
	}
}

// TestScheduleFiresAtTheRightInstants walks the calendar schedule (create
// daily at 02:00, expire on Sunday at 03:00) across a week and a DST change.
func TestScheduleFiresAtTheRightInstants(t *testing.T) {
	berlin := mustLoad(t, "Europe/Berlin")
	s := schedule{loc: berlin, createAt: clockTime{2, 0}, expireOn: time.Sunday, expireAt: clockTime{3, 0}}
	at := func(y int, m time.Month, d, h, mi int) time.Time { return time.Date(y, m, d, h, mi, 0, 0, berlin) }
	tests := []struct {
		name  string
		job   job
		after time.Time
		want  time.Time
	}{
		{name: "create: later the same day", job: createJob, after: at(2026, 11, 26, 1, 59), want: at(2026, 11, 26, 2, 0)},
		{name: "create: exactly at 02:00 means the next day", job: createJob, after: at(2026, 11, 26, 2, 0), want: at(2026, 11, 27, 2, 0)},
		{name: "create: across a month", job: createJob, after: at(2026, 11, 30, 12, 0), want: at(2026, 12, 1, 2, 0)},
		{name: "expire: Thursday to Sunday", job: expireJob, after: at(2026, 11, 26, 12, 0), want: at(2026, 11, 29, 3, 0)},
		{name: "expire: Sunday before 03:00", job: expireJob, after: at(2026, 11, 29, 2, 59), want: at(2026, 11, 29, 3, 0)},
		{name: "expire: Sunday at 03:00 means next Sunday", job: expireJob, after: at(2026, 11, 29, 3, 0), want: at(2026, 12, 6, 3, 0)},
		{name: "expire: on the Sunday clocks go back", job: expireJob, after: at(2026, 10, 24, 12, 0), want: at(2026, 10, 25, 3, 0)},
		{name: "create: after clocks went back is still 02:00 local", job: createJob, after: at(2026, 10, 25, 12, 0), want: at(2026, 10, 26, 2, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.next(tt.job, tt.after)
			assert.Equal(t, tt.want.Format(time.RFC3339), got.Format(time.RFC3339))
		})
	}
	interval := schedule{loc: time.UTC, interval: 30 * time.Minute}
	assert.Equal(t, at(2026, 11, 26, 1, 30), interval.next(expireJob, at(2026, 11, 26, 1, 0)))
}
