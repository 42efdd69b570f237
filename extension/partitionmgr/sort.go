package partitionmgr

import (
	"sort"
	"time"
)

func sortedTables(tables map[string]tablePlan) []string {
	names := make([]string, 0, len(tables))
	for name := range tables {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func sortedPeriods(ps map[time.Time]period) []period {
	out := make([]period, 0, len(ps))
	for _, p := range ps {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].from.Before(out[j].from) })
	return out
}
