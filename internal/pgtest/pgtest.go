// Package pgtest gives each test package a PostgreSQL database of its own on
// the real server, and a proxy that can take that server "down" for one test.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// AdminDSNEnv names the variable holding a DSN of a role allowed to create
// databases; DefaultAdminDSN is used when it is unset.
const (
	AdminDSNEnv     = "MCP_TEST_ADMIN_DSN"
	DefaultAdminDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
)

// AdminDSN returns the DSN tests use to create and drop their databases.
func AdminDSN() string {
	if dsn := os.Getenv(AdminDSNEnv); dsn != "" {
		return dsn
	}
	return DefaultAdminDSN
}

// Database is a database created for one test package.
type Database struct {
	Name string
	DSN  string
}

// CreateDatabase creates a fresh database named prefix_<random> and returns
// it; call Drop when the package's tests are done (in TestMain).
func CreateDatabase(prefix string) (*Database, error) {
	admin := AdminDSN()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL with %s (set %s): %w", redact(admin), AdminDSNEnv, err)
	}
	defer conn.Close(ctx)
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	name := prefix + "_" + hex.EncodeToString(suffix[:])
	if _, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		return nil, fmt.Errorf("%s must be a URL: %w", AdminDSNEnv, err)
	}
	u.Path = "/" + name
	return &Database{Name: name, DSN: u.String()}, nil
}

// Drop removes the database, closing any connection still open to it.
func (d *Database) Drop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, AdminDSN())
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{d.Name}.Sanitize()+" WITH (FORCE)")
	return err
}

// Connect opens a plain connection to the database.
func (d *Database) Connect(ctx context.Context) (*pgx.Conn, error) {
	return pgx.Connect(ctx, d.DSN)
}

func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	return u.Redacted()
}

// Proxy forwards TCP connections to a PostgreSQL server and can be switched
// off, which drops every open connection and refuses new ones: the database
// is "down" for whoever connects through the proxy, and for no one else.
type Proxy struct {
	target   string
	listener net.Listener

	mu    sync.Mutex
	up    bool
	conns map[net.Conn]struct{}
}

// NewProxy listens on a free loopback port and forwards to target (host:port).
func NewProxy(target string, up bool) (*Proxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{target: target, listener: l, up: up, conns: map[net.Conn]struct{}{}}
	go p.serve()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.listener.Addr().String() }

// DSNThrough rewrites dsn to connect through the proxy.
func (p *Proxy) DSNThrough(dsn string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", err
	}
	u.Host = p.Addr()
	return u.String(), nil
}

// SetUp switches the proxy on or off; off closes every open connection.
func (p *Proxy) SetUp(up bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.up = up
	if !up {
		for c := range p.conns {
			_ = c.Close()
		}
	}
}

// Close stops the proxy.
func (p *Proxy) Close() {
	p.SetUp(false)
	_ = p.listener.Close()
}

func (p *Proxy) serve() {
	for {
		client, err := p.listener.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if !p.up {
			p.mu.Unlock()
			_ = client.Close()
			continue
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			_ = client.Close()
			continue
		}
		p.conns[client] = struct{}{}
		p.conns[server] = struct{}{}
		p.mu.Unlock()
		go p.pipe(client, server)
		go p.pipe(server, client)
	}
}

func (p *Proxy) pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// Main runs a test package's tests with a database of its own: it creates
// prefix_<random>, stores it in *db, runs m, drops the database and returns
// the exit code for os.Exit. Use it as TestMain's body:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, "mcp_x_test", &testDB)) }
func Main(m interface{ Run() int }, prefix string, db **Database) int {
	created, err := CreateDatabase(prefix)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	*db = created
	code := m.Run()
	if err := created.Drop(); err != nil {
		fmt.Fprintln(os.Stderr, "drop test database:", err)
	}
	return code
}

// ProxyFor starts a Proxy to the server of dsn for one test (closed when the
// test ends) and returns it with dsn rewritten to connect through it.
func ProxyFor(t testing.TB, dsn string, up bool) (*Proxy, string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	p, err := NewProxy(u.Host, up)
	if err != nil {
		t.Fatalf("pgtest: proxy: %v", err)
	}
	t.Cleanup(p.Close)
	through, err := p.DSNThrough(dsn)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return p, through
}
