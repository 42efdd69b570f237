package schema

import (
	"cmp"
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// quantileBound is the relative error 0005_rollups.sql states for
// rollup_hist_quantile: the middle of a bucket 2^(1/8) wide is within a
// factor 2^(1/16) of every value in it.
var quantileBound = math.Pow(2, 1.0/16) - 1

// exactQuantile is the rank rollup_hist_quantile aims at: the smallest
// sample whose cumulative weight reaches q (per mille) of the total.
func exactQuantile(durations, weights []int64, permille int64) int64 {
	idx := make([]int, len(durations))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(durations[a], durations[b]) })
	var total, cum int64
	for _, w := range weights {
		total += w
	}
	for _, i := range idx {
		cum += weights[i]
		if cum*1000 >= permille*total {
			return durations[i]
		}
	}
	return durations[idx[len(idx)-1]]
}

// TestQuantileWithinStatedError draws weighted samples (log-uniform from
// 1 us to 100 s, weights as sampling gives them), builds the distribution
// and reads quantiles with the schema's functions, and checks each against
// the exact weighted quantile of the samples; the distribution of two halves
// merged must equal that of the whole.
func TestQuantileWithinStatedError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pool := testPool(t)
	s := freshSchema("quantile")
	_, err := Apply(ctx, pool, s)
	require.NoError(t, err)
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, "SET search_path TO "+pgx.Identifier{s}.Sanitize())
	require.NoError(t, err)

	permilles := []int64{0, 10, 250, 500, 900, 950, 990, 999, 1000}
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	for trial := range 150 {
		n := 1 + rng.IntN(400)
		durations := make([]int64, n)
		weights := make([]int64, n)
		for i := range n {
			durations[i] = int64(math.Exp(rng.Float64() * math.Log(1e8)))
			weights[i] = []int64{1, 1, 1, 10, 100}[rng.IntN(5)]
		}
		rows, err := conn.Query(ctx, `
			SELECT q, rollup_hist_quantile(h, (q / 1000.0)::double precision)
			FROM (SELECT rollup_hist(array_agg(rollup_bucket(d)), array_agg(w::numeric)) AS h
			      FROM unnest($1::bigint[], $2::bigint[]) AS s(d, w)) x, unnest($3::bigint[]) AS q`,
			durations, weights, permilles)
		require.NoError(t, err)
		got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
			Q int64
			V float64
		}])
		require.NoError(t, err)
		require.Len(t, got, len(permilles))
		for _, g := range got {
			want := float64(exactQuantile(durations, weights, g.Q))
			require.LessOrEqual(t, math.Abs(g.V-want)/want, quantileBound+1e-12,
				"trial %d: q=%d/1000 of %d samples: got %g, exact %g", trial, g.Q, n, g.V, want)
		}

		half := rng.IntN(n + 1)
		var merged, whole bool
		require.NoError(t, conn.QueryRow(ctx, `
			WITH s AS (SELECT ord, rollup_bucket(d) AS b, w::numeric AS w
			           FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS s(d, w, ord)),
			     parts AS (SELECT rollup_hist(array_agg(b), array_agg(w)) AS h FROM s GROUP BY ord <= $3),
			     one AS (SELECT rollup_hist(array_agg(b), array_agg(w)) AS h FROM s)
			SELECT (SELECT rollup_hist_merge(h) FROM parts) = one.h, array_lower(one.h, 1) = (SELECT min(b) FROM s)
			FROM one`, durations, weights, half).Scan(&merged, &whole))
		require.True(t, merged, "trial %d: merging the distributions of two parts gives that of the whole", trial)
		require.True(t, whole, "trial %d: the distribution's first subscript is its first bucket", trial)
	}
}

// TestBucketBounds checks rollup_bucket against its definition at and
// around the bucket edges: 2^(b/8) <= d < 2^((b+1)/8), d <= 1 in bucket 0.
func TestBucketBounds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool := testPool(t)
	s := freshSchema("bucket")
	_, err := Apply(ctx, pool, s)
	require.NoError(t, err)
	var probes []int64
	for b := 0; b < 8*40; b++ {
		edge := int64(math.Ceil(math.Pow(2, float64(b)/8)))
		probes = append(probes, edge-1, edge, edge+1)
	}
	probes = append(probes, 0, -5, math.MaxInt64)
	rows, err := pool.Query(ctx, "SELECT d, "+pgx.Identifier{s, "rollup_bucket"}.Sanitize()+"(d) FROM unnest($1::bigint[]) AS d", probes)
	require.NoError(t, err)
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
		D int64
		B int32
	}])
	require.NoError(t, err)
	for _, g := range got {
		if g.D <= 1 {
			require.Equal(t, int32(0), g.B, "d=%d", g.D)
			continue
		}
		lo, hi := math.Pow(2, float64(g.B)/8), math.Pow(2, float64(g.B+1)/8)
		d := float64(g.D)
		require.True(t, d >= lo*(1-1e-12) && d < hi*(1+1e-12), "d=%d in bucket %d [%g, %g)", g.D, g.B, lo, hi)
	}
}
