package sharedcomponent

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
)

// counted counts its starts and shutdowns.
type counted struct {
	starts, shutdowns atomic.Int32
	startErr          error
	shutdownErr       error
}

func (c *counted) Start(context.Context, component.Host) error {
	c.starts.Add(1)
	return c.startErr
}

func (c *counted) Shutdown(context.Context) error {
	c.shutdowns.Add(1)
	return c.shutdownErr
}

func refsOf(t *testing.T, m *Map[string, *counted], key string, n int) []*Ref[*counted] {
	t.Helper()
	refs := make([]*Ref[*counted], n)
	for i := range refs {
		r, err := m.LoadOrStore(key, func() (*counted, error) { return &counted{}, nil })
		require.NoError(t, err)
		refs[i] = r
	}
	return refs
}

func TestRefsShareOneValueStartedOnce(t *testing.T) {
	m := NewMap[string, *counted]()
	refs := refsOf(t, m, "a", 3)
	v := refs[0].Unwrap()
	for _, r := range refs {
		assert.Same(t, v, r.Unwrap())
	}
	other := refsOf(t, m, "b", 1)[0]
	assert.NotSame(t, v, other.Unwrap())

	ctx := context.Background()
	for _, r := range refs {
		require.NoError(t, r.Start(ctx, componenttest.NewNopHost()))
		require.NoError(t, r.Start(ctx, componenttest.NewNopHost()))
	}
	assert.Equal(t, int32(1), v.starts.Load())
	require.NoError(t, other.Shutdown(ctx))
}

func TestEveryRefGetsTheStartError(t *testing.T) {
	m := NewMap[string, *counted]()
	failing := errors.New("address already in use")
	create := func() (*counted, error) { return &counted{startErr: failing}, nil }
	r1, err := m.LoadOrStore("a", create)
	require.NoError(t, err)
	r2, err := m.LoadOrStore("a", create)
	require.NoError(t, err)
	ctx := context.Background()
	require.ErrorIs(t, r1.Start(ctx, componenttest.NewNopHost()), failing)
	require.ErrorIs(t, r2.Start(ctx, componenttest.NewNopHost()), failing)
	assert.Equal(t, int32(1), r1.Unwrap().starts.Load())
	require.NoError(t, r1.Shutdown(ctx))
	require.NoError(t, r2.Shutdown(ctx))
}

func TestTheLastRefShutsTheValueDown(t *testing.T) {
	for _, tc := range []struct {
		name    string
		started []int // the refs started, by index
	}{
		{name: "all started", started: []int{0, 1, 2}},
		{name: "one started", started: []int{1}},
		// A collector that fails to start shuts down what it created.
		{name: "none started", started: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMap[string, *counted]()
			refs := refsOf(t, m, "a", 3)
			v := refs[0].Unwrap()
			ctx := context.Background()
			for _, i := range tc.started {
				require.NoError(t, refs[i].Start(ctx, componenttest.NewNopHost()))
			}
			for _, r := range refs[:2] {
				require.NoError(t, r.Shutdown(ctx))
				require.NoError(t, r.Shutdown(ctx), "a second shutdown of one ref")
				assert.Equal(t, int32(0), v.shutdowns.Load(), "shut down while a ref holds it")
				live, ok := m.Load("a")
				require.True(t, ok)
				assert.Same(t, v, live)
			}
			require.NoError(t, refs[2].Shutdown(ctx))
			assert.Equal(t, int32(1), v.shutdowns.Load())
			_, ok := m.Load("a")
			assert.False(t, ok, "the key outlived its value")

			fresh := refsOf(t, m, "a", 1)[0]
			assert.NotSame(t, v, fresh.Unwrap(), "a value that was shut down was handed out again")
			require.NoError(t, fresh.Shutdown(ctx))
		})
	}
}

func TestShutdownErrorGoesToTheLastRef(t *testing.T) {
	m := NewMap[string, *counted]()
	failing := context.DeadlineExceeded
	create := func() (*counted, error) { return &counted{shutdownErr: failing}, nil }
	r1, err := m.LoadOrStore("a", create)
	require.NoError(t, err)
	r2, err := m.LoadOrStore("a", create)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, r1.Shutdown(ctx))
	require.ErrorIs(t, r2.Shutdown(ctx), failing)
	require.ErrorIs(t, r2.Shutdown(ctx), failing, "a second call returns the first's result")
}

func TestFailedCreateStoresNothing(t *testing.T) {
	m := NewMap[string, *counted]()
	failing := errors.New("no telemetry")
	_, err := m.LoadOrStore("a", func() (*counted, error) { return nil, failing })
	require.ErrorIs(t, err, failing)
	_, ok := m.Load("a")
	assert.False(t, ok)
	r := refsOf(t, m, "a", 1)[0]
	require.NoError(t, r.Shutdown(context.Background()))
}

// createdValues records every value it creates.
type createdValues struct {
	mu      sync.Mutex
	created []*counted
}

func (v *createdValues) create() (*counted, error) {
	c := &counted{}
	v.mu.Lock()
	v.created = append(v.created, c)
	v.mu.Unlock()
	return c, nil
}

// TestConcurrentRefs takes and lets go of refs from several goroutines: each
// value created is shut down exactly once and no key is left.
func TestConcurrentRefs(t *testing.T) {
	m := NewMap[string, *counted]()
	var values createdValues
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				r, err := m.LoadOrStore("a", values.create)
				if !assert.NoError(t, err) {
					return
				}
				assert.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
				assert.NoError(t, r.Shutdown(context.Background()))
			}
		})
	}
	wg.Wait()
	_, ok := m.Load("a")
	assert.False(t, ok)
	require.NotEmpty(t, values.created)
	for i, c := range values.created {
		assert.Equal(t, int32(1), c.starts.Load(), "value %d", i)
		assert.Equal(t, int32(1), c.shutdowns.Load(), "value %d", i)
	}
}
