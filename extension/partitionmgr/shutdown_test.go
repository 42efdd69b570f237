package partitionmgr

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configopaque"
)

// freezingProxy forwards TCP to PostgreSQL and can stop forwarding while
// keeping every connection open: the database stops answering, as behind
// a network partition, and a query sent then waits until it is thawed.
type freezingProxy struct {
	listener net.Listener
	target   string
	wg       sync.WaitGroup
	mu       sync.Mutex
	open     chan struct{} // closed while forwarding; a fresh one while frozen
	conns    []net.Conn
}

func newFreezingProxy(t *testing.T, dsn string) (*freezingProxy, string) {
	t.Helper()
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &freezingProxy{listener: l, target: u.Host, open: make(chan struct{})}
	close(p.open)
	p.wg.Go(p.serve)
	t.Cleanup(p.close)
	u.Host = l.Addr().String()
	return p, u.String()
}

func (p *freezingProxy) serve() {
	for {
		client, err := p.listener.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, server)
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(client, server) })
		p.wg.Go(func() { p.pipe(server, client) })
	}
}

func (p *freezingProxy) pipe(dst, src net.Conn) {
	defer func() { _ = dst.Close() }()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			open := p.open
			p.mu.Unlock()
			<-open // waits while frozen
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				_ = src.Close()
			}
			return
		}
	}
}

func (p *freezingProxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.open = make(chan struct{})
}

func (p *freezingProxy) thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
	default:
		close(p.open)
	}
}

func (p *freezingProxy) close() {
	_ = p.listener.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// TestShutdownHonoursItsDeadline: a create run waits for a lock while the
// database stops answering. Shutdown cancels the run, but the run's last
// statement (releasing the leader lock) waits for an answer that does not
// come. Shutdown must return the context's error at its deadline instead of
// waiting for ever; once the database answers again the run ends and the
// pool closes.
func TestShutdownHonoursItsDeadline(t *testing.T) {
	db := testDB(t)
	proxy, dsn := newFreezingProxy(t, db.DSN)
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	schemaName := freshSchema("shutdown")
	tm := startManager(t, schemaName, start, func(c *Config) { c.DSN = configopaque.String(dsn) })
	tm.waitForRuns(t, 1)
	eventually(t, "the rollup loop waiting too", func() bool { return tm.clock.pending() >= 2 })

	// Hold the lock of partition DDL, so that the next create run waits.
	ctx := context.Background()
	pool := testPool(t)
	holder, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer holder.Release()
	_, err = holder.Exec(ctx, "SELECT pg_advisory_lock($1)", ddlLockKey(schemaName))
	require.NoError(t, err)
	defer func() { _, _ = holder.Exec(ctx, "SELECT pg_advisory_unlock($1)", ddlLockKey(schemaName)) }()

	tm.clock.Set(time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC))
	eventually(t, "the create run waiting for the DDL lock", func() bool {
		var waiting bool
		require.NoError(t, pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks
			WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))`).Scan(&waiting))
		return waiting
	})

	proxy.freeze()
	shutdownCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	returned := make(chan error, 1)
	go func() { returned <- tm.Shutdown(shutdownCtx) }()
	select {
	case err = <-returned:
	case <-time.After(time.Minute):
		proxy.thaw()
		t.Fatal("Shutdown ignored its context's deadline and waited for the run")
	}
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	proxy.thaw()
	for name, ch := range map[string]chan struct{}{"the run to end": tm.done, "the pool to close": tm.closed} {
		select {
		case <-ch:
		case <-time.After(time.Minute):
			t.Fatalf("timed out waiting for %s", name)
		}
	}
}
