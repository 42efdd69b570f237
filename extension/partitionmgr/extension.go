package partitionmgr

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	_ "time/tzdata" // time zones without the system database (distroless images)

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/mcp-bridge/otelcol-mcp/extension/partitionmgr/internal/metadata"
	"github.com/mcp-bridge/otelcol-mcp/schema"
)

// clock is the time source; tests replace it.
type clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// ErrSchemaNotReady is returned by EnsurePartition until the migrations are applied.
var ErrSchemaNotReady = errors.New("partitionmgr: schema not applied yet")

type partitionManager struct {
	cfg       *Config
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	clock     clock
	sched     schedule
	loc       *time.Location
	plans     map[string]tablePlan

	host      component.Host
	pool      *pgxpool.Pool
	m         *maintainer
	ready     atomic.Bool
	cancel    context.CancelFunc
	done      chan struct{} // closed when the loops have returned
	closed    chan struct{} // closed when the pool is
	closeOnce sync.Once

	mu            sync.Mutex
	rowsInDefault map[string]int64
	lastSuccess   map[job]time.Time
}

var _ Manager = (*partitionManager)(nil)

func newPartitionManager(cfg *Config, set extension.Settings, clk clock) (*partitionManager, error) {
	loc, err := time.LoadLocation(cfg.TimeZone)
	if err != nil {
		return nil, err
	}
	plans := map[string]tablePlan{}
	for name, t := range cfg.Tables {
		retention, err := parseRetention(t.Retention)
		if err != nil {
			return nil, fmt.Errorf("tables::%s::retention: %w", name, err)
		}
		plans[name] = tablePlan{interval: t.Interval, premake: t.Premake, retention: retention, expiry: t.Expiry}
	}
	sched := schedule{loc: loc}
	if cfg.Schedule.Mode == modeInterval {
		sched.interval = cfg.Schedule.Interval
	} else {
		if sched.createAt, err = parseClockTime(cfg.Schedule.CreateAt); err != nil {
			return nil, err
		}
		if sched.expireAt, err = parseClockTime(cfg.Schedule.ExpireAt); err != nil {
			return nil, err
		}
		if sched.expireOn, err = parseWeekday(cfg.Schedule.ExpireOn); err != nil {
			return nil, err
		}
	}
	telemetry, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &partitionManager{
		cfg: cfg, logger: set.Logger, telemetry: telemetry, clock: clk, sched: sched, loc: loc, plans: plans,
		rowsInDefault: map[string]int64{}, lastSuccess: map[job]time.Time{},
	}, nil
}

// Start opens a pool without connecting and starts the maintenance loop in
// the background: a database that is down never keeps the collector from
// starting.
func (pm *partitionManager) Start(_ context.Context, host component.Host) error {
	poolCfg, err := pgxpool.ParseConfig(string(pm.cfg.DSN))
	if err != nil {
		return fmt.Errorf("dsn: %w", err)
	}
	poolCfg.MaxConns = 4 // leader lock, DDL, on-demand requests, rollup refresh
	poolCfg.MinConns = 0
	pool, err := pgxpool.NewWithConfig(context.Background(), poolCfg)
	if err != nil {
		return err
	}
	pm.host, pm.pool = host, pool
	pm.m = &maintainer{pool: pool, schemaName: pm.cfg.Schema, archiveSchema: pm.cfg.ArchiveSchema, loc: pm.loc, tables: pm.plans}
	if err = pm.registerGauges(); err != nil {
		pm.telemetry.Shutdown()
		pool.Close()
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	pm.cancel, pm.done, pm.closed = cancel, make(chan struct{}), make(chan struct{})
	go pm.run(ctx)
	return nil
}

// Shutdown stops the loops and waits for a run in progress to end, until
// ctx ends: then it returns ctx's error, having released what is not in use
// (the gauges' callbacks, idle connections); the pool closes when the run
// ends. A run ends on cancellation unless the database stops answering.
func (pm *partitionManager) Shutdown(ctx context.Context) error {
	var err error
	if pm.cancel != nil {
		pm.cancel()
		select {
		case <-pm.done:
		case <-ctx.Done():
			err = fmt.Errorf("partitionmgr: a maintenance run still holds the database: %w", ctx.Err())
		}
	}
	// Unregisters the gauges' callbacks (none when Start was not called).
	pm.telemetry.Shutdown()
	if pm.pool == nil {
		return err
	}
	if err == nil {
		pm.closePool()
		return nil
	}
	// Close waits for the connections in use; Reset closes the idle ones
	// now and the others when they are released.
	pm.pool.Reset()
	go func() {
		<-pm.done
		pm.closePool()
	}()
	return err
}

func (pm *partitionManager) closePool() {
	pm.pool.Close()
	pm.closeOnce.Do(func() { close(pm.closed) })
}

func (pm *partitionManager) Schema() string    { return pm.cfg.Schema }
func (pm *partitionManager) SchemaReady() bool { return pm.ready.Load() }

// EnsurePartitions creates on demand the partitions of table holding times.
func (pm *partitionManager) EnsurePartitions(ctx context.Context, table string, times ...time.Time) error {
	if !pm.ready.Load() {
		return ErrSchemaNotReady
	}
	plan, ok := pm.plans[table]
	if !ok {
		return fmt.Errorf("partitionmgr: %s is not a managed table", table)
	}
	periods := map[time.Time]period{}
	for _, ts := range times {
		p := plan.interval.periodOf(table, ts, pm.loc)
		periods[p.from] = p
	}
	for _, p := range sortedPeriods(periods) {
		created, moved, err := pm.m.ensurePartition(ctx, table, p)
		if err != nil {
			return err
		}
		pm.recordCreated(ctx, table, created, moved)
	}
	return nil
}

// run applies the schema (retrying while the database is down), runs both
// jobs, then each job on its schedule; a failed job is retried after
// retry_interval.
func (pm *partitionManager) run(ctx context.Context) {
	defer close(pm.done)
	var rollups sync.WaitGroup
	defer rollups.Wait()
	for {
		applied, err := schema.Apply(ctx, pm.pool, pm.cfg.Schema)
		if err == nil {
			if len(applied) > 0 {
				pm.logger.Info("applied schema migrations", zap.String("schema", pm.cfg.Schema), zap.Ints("versions", applied))
			}
			pm.ready.Store(true)
			rollups.Go(func() { pm.rollupLoop(ctx) })
			break
		}
		pm.logger.Warn("cannot apply the schema yet; retrying", zap.Error(err), zap.Duration("retry_in", pm.cfg.RetryInterval))
		componentstatus.ReportStatus(pm.host, componentstatus.NewRecoverableErrorEvent(err))
		select {
		case <-ctx.Done():
			return
		case <-pm.clock.After(pm.cfg.RetryInterval):
		}
	}
	now := pm.clock.Now()
	due := map[job]time.Time{createJob: now, expireJob: now}
	for {
		next := createJob
		if due[expireJob].Before(due[createJob]) {
			next = expireJob
		}
		if wait := due[next].Sub(pm.clock.Now()); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-pm.clock.After(wait):
			}
		}
		if ctx.Err() != nil {
			return
		}
		ranAt := pm.clock.Now()
		if err := pm.runJob(ctx, next, ranAt); err != nil {
			if ctx.Err() != nil {
				return
			}
			pm.logger.Warn("partition maintenance failed; retrying", zap.Stringer("task", next), zap.Error(err),
				zap.Duration("retry_in", pm.cfg.RetryInterval))
			componentstatus.ReportStatus(pm.host, componentstatus.NewRecoverableErrorEvent(err))
			due[next] = ranAt.Add(pm.cfg.RetryInterval)
			continue
		}
		componentstatus.ReportStatus(pm.host, componentstatus.NewEvent(componentstatus.StatusOK))
		due[next] = pm.sched.next(next, ranAt)
	}
}

// runJob runs j if this collector wins the leader lock; otherwise another
// collector is running maintenance and this one skips the run.
func (pm *partitionManager) runJob(ctx context.Context, j job, now time.Time) error {
	conn, err := pm.pool.Acquire(ctx)
	if err != nil {
		pm.recordRun(ctx, j, "failed")
		return err
	}
	defer conn.Release()
	var leader bool
	if err = conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", leaderLockKey(pm.cfg.Schema)).Scan(&leader); err != nil {
		pm.recordRun(ctx, j, "failed")
		return err
	}
	if !leader {
		pm.logger.Debug("another collector runs partition maintenance", zap.Stringer("task", j))
		pm.recordRun(ctx, j, "skipped")
		return nil
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", leaderLockKey(pm.cfg.Schema))
	}()

	switch j {
	case createJob:
		err = pm.create(ctx, now)
	case expireJob:
		err = pm.expire(ctx, now)
	}
	if err != nil {
		pm.recordRun(ctx, j, "failed")
		return err
	}
	pm.recordRun(ctx, j, "ok")
	pm.markSuccess(j, now)
	return nil
}

// markSuccess records when job j last succeeded (the last-success gauge).
func (pm *partitionManager) markSuccess(j job, now time.Time) {
	pm.mu.Lock()
	pm.lastSuccess[j] = now
	pm.mu.Unlock()
}

func (pm *partitionManager) create(ctx context.Context, now time.Time) error {
	res, err := pm.m.createAhead(ctx, now)
	for table, n := range res.created {
		if n > 0 {
			pm.telemetry.PartitionmgrPartitionsCreated.Add(ctx, int64(n), tableAttr(table))
			pm.logger.Info("created partitions", zap.String("table", table), zap.Int("partitions", n))
		}
	}
	for table, n := range res.moved {
		if n > 0 {
			pm.telemetry.PartitionmgrRowsMoved.Add(ctx, n, tableAttr(table))
			pm.logger.Info("moved rows out of the DEFAULT partition", zap.String("table", table), zap.Int64("rows", n))
		}
	}
	waiting, countErr := pm.m.rowsInDefault(ctx)
	pm.mu.Lock()
	for table, n := range waiting {
		pm.rowsInDefault[table] = n
	}
	pm.mu.Unlock()
	for _, table := range sortedTables(pm.plans) {
		if n := waiting[table]; n > 0 {
			pm.logger.Warn("rows wait in the DEFAULT partition: outside every partition (older than retention or beyond premake)",
				zap.String("table", table), zap.Int64("rows", n))
		}
	}
	return errors.Join(err, countErr)
}

func (pm *partitionManager) expire(ctx context.Context, now time.Time) error {
	done, err := pm.m.expire(ctx, now)
	for _, e := range done {
		pm.telemetry.PartitionmgrPartitionsExpired.Add(ctx, 1,
			metric.WithAttributes(attribute.String("table", e.table), attribute.String("expiry", string(e.expiry))))
		pm.logger.Info("expired partition", zap.String("partition", e.name), zap.String("expiry", string(e.expiry)))
	}
	rows, defErr := pm.m.expireDefaults(ctx, now)
	for _, e := range rows {
		pm.telemetry.PartitionmgrDefaultRowsExpired.Add(ctx, e.rows,
			metric.WithAttributes(attribute.String("table", e.table), attribute.String("expiry", string(e.expiry))))
		pm.logger.Info("expired rows of the DEFAULT partition", zap.String("table", e.table), zap.Int64("rows", e.rows),
			zap.String("expiry", string(e.expiry)), zap.String("into", e.into))
	}
	// The gauge counts what is left.
	waiting, countErr := pm.m.rowsInDefault(ctx)
	if countErr == nil {
		pm.mu.Lock()
		for table, n := range waiting {
			pm.rowsInDefault[table] = n
		}
		pm.mu.Unlock()
	}
	return errors.Join(err, defErr, countErr)
}

func (pm *partitionManager) recordCreated(ctx context.Context, table string, created bool, moved int64) {
	if created {
		pm.telemetry.PartitionmgrPartitionsCreated.Add(ctx, 1, tableAttr(table))
	}
	if moved > 0 {
		pm.telemetry.PartitionmgrRowsMoved.Add(ctx, moved, tableAttr(table))
	}
}

func (pm *partitionManager) recordRun(ctx context.Context, j job, result string) {
	pm.telemetry.PartitionmgrRuns.Add(context.WithoutCancel(ctx), 1,
		metric.WithAttributes(attribute.String("task", j.String()), attribute.String("result", result)))
}

func tableAttr(table string) metric.AddOption {
	return metric.WithAttributes(attribute.String("table", table))
}

// registerGauges registers the callbacks of the three gauges; the
// telemetry builder's Shutdown unregisters them.
func (pm *partitionManager) registerGauges() error {
	t := pm.telemetry
	return errors.Join(
		t.RegisterPartitionmgrRowsInDefaultCallback(func(_ context.Context, o metric.Int64Observer) error {
			pm.mu.Lock()
			defer pm.mu.Unlock()
			for table, n := range pm.rowsInDefault {
				o.Observe(n, metric.WithAttributes(attribute.String("table", table)))
			}
			return nil
		}),
		t.RegisterPartitionmgrLastSuccessCallback(func(_ context.Context, o metric.Int64Observer) error {
			pm.mu.Lock()
			defer pm.mu.Unlock()
			for j, at := range pm.lastSuccess {
				o.Observe(at.Unix(), metric.WithAttributes(attribute.String("task", j.String())))
			}
			return nil
		}),
		t.RegisterPartitionmgrSchemaReadyCallback(func(_ context.Context, o metric.Int64Observer) error {
			ready := int64(0)
			if pm.ready.Load() {
				ready = 1
			}
			o.Observe(ready)
			return nil
		}),
	)
}
