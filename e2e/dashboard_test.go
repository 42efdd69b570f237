package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// grafanaDashboard is the part of a Grafana dashboard this test reads.
type grafanaDashboard struct {
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query string `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID         int    `json:"id"`
		Type       string `json:"type"`
		Title      string `json:"title"`
		Datasource struct {
			Type string `json:"type"`
			UID  string `json:"uid"`
		} `json:"datasource"`
		GridPos struct {
			X, Y, W, H int
		} `json:"gridPos"`
		Targets []struct {
			RawSQL string `json:"rawSql"`
			Format string `json:"format"`
		} `json:"targets"`
	} `json:"panels"`
}

var (
	macroTimeGroupAlias = regexp.MustCompile(`\$__timeGroupAlias\((\w+),\s*\$__interval\)`)
	macroTimeFilter     = regexp.MustCompile(`\$__timeFilter\((\w+)\)`)
)

// expandGrafanaMacros rewrites a panel's SQL the way Grafana's PostgreSQL
// data source does for a time range [from, to] and a one-minute interval.
func expandGrafanaMacros(sql, schemaName string, from, to time.Time) string {
	f, t := "'"+from.UTC().Format(time.RFC3339)+"'", "'"+to.UTC().Format(time.RFC3339)+"'"
	sql = macroTimeGroupAlias.ReplaceAllString(sql, `floor(extract(epoch from $1)/60)*60 AS "time"`)
	sql = macroTimeFilter.ReplaceAllString(sql, "$1 BETWEEN "+f+" AND "+t)
	return strings.NewReplacer("$__timeFrom()", f, "$__timeTo()", t, "$__interval_ms", "60000",
		"${schema}", schemaName).Replace(sql)
}

// TestGrafanaDashboardQueries runs every panel query of
// deploy/grafana/otelcol-mcp-dashboard.json, its Grafana macros expanded,
// against tables the distribution filled from simulated router traffic:
// every query must run, and every panel but those whose rows a short run may
// not produce must show data.
func TestGrafanaDashboardQueries(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "grafana", "otelcol-mcp-dashboard.json"))
	require.NoError(t, err)
	var d grafanaDashboard
	require.NoError(t, json.Unmarshal(raw, &d))
	require.NotEmpty(t, d.UID)
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type + " " + v.Query
	}
	assert.Equal(t, "datasource grafana-postgresql-datasource", vars["datasource"])
	assert.Equal(t, "textbox mcp", vars["schema"], "the schema variable defaults to the exporter's default schema")

	// A short run may have no breaker transition, no failed health check, and
	// too few histogram exports per series for a delta.
	mayBeEmpty := map[string]bool{
		"Server-side duration p95 by server (histograms)": true,
		"Failed health checks by server":                  true,
		"Circuit-breaker transitions":                     true,
	}

	schemaName := freshSchema("e2e_dashboard")
	c := startCollector(t, schemaName, keepEverySampledEvent...)
	sim := startSim(t, c.grpcAddr, 3000)
	sim.wait(t)
	sim.reconcile(t, schemaName)
	c.stop(t)

	ctx := context.Background()
	conn, err := testDB.Connect(ctx)
	require.NoError(t, err)
	defer conn.Close(ctx)
	// The routed-request panels read the per-minute rollups. partitionmgr
	// refreshes a minute once it has ended (rollups::delay after); the
	// minutes of this short run that were still queued when the collector
	// stopped are refreshed here, as its next run would.
	_, err = conn.Exec(ctx, "SELECT * FROM "+pgx.Identifier{schemaName, "rollup_refresh"}.Sanitize()+"(NULL, NULL, NULL, NULL)")
	require.NoError(t, err)
	from, to := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	ids := map[int]bool{}
	queries := 0
	for _, p := range d.Panels {
		assert.False(t, ids[p.ID], "panel id %d used twice", p.ID)
		ids[p.ID] = true
		assert.LessOrEqual(t, p.GridPos.X+p.GridPos.W, 24, "panel %q is wider than the grid", p.Title)
		if p.Type == "row" {
			continue
		}
		assert.Equal(t, "${datasource}", p.Datasource.UID, "panel %q", p.Title)
		require.Len(t, p.Targets, 1, "panel %q", p.Title)
		target := p.Targets[0]
		assert.Contains(t, []string{"time_series", "table"}, target.Format, "panel %q", p.Title)
		sql := expandGrafanaMacros(target.RawSQL, schemaName, from, to)
		require.NotContains(t, sql, "$", "panel %q uses a macro this test does not expand:\n%s", p.Title, sql)
		rows, err := conn.Query(ctx, sql)
		require.NoError(t, err, "panel %q", p.Title)
		n := 0
		var cols []string
		for _, f := range rows.FieldDescriptions() {
			cols = append(cols, f.Name)
		}
		for rows.Next() {
			n++
		}
		require.NoError(t, rows.Err(), "panel %q:\n%s", p.Title, sql)
		if target.Format == "time_series" {
			assert.Equal(t, "time", cols[0], "panel %q: a time series needs its time column first", p.Title)
		}
		if !mayBeEmpty[p.Title] {
			assert.Positive(t, n, "panel %q shows nothing after a simulated run:\n%s", p.Title, sql)
		}
		t.Logf("%-50s %s rows", p.Title, fmt.Sprint(n))
		queries++
	}
	assert.GreaterOrEqual(t, queries, 15)
}
