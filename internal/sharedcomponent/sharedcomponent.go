// Package sharedcomponent gives the traces, logs and metrics instances of one
// configured component one value to share (the receiver's HTTP server, the
// exporter's connection pool), started by the first of them to start and
// shut down by the last of them to shut down.
package sharedcomponent

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
)

// Map holds the live shared value of each key. The key is the component's
// *Config: the collector hands every signal of a component the same one.
type Map[K comparable, V component.Component] struct {
	mu     sync.Mutex
	shared map[K]*shared[V]
}

// NewMap returns an empty map.
func NewMap[K comparable, V component.Component]() *Map[K, V] {
	return &Map[K, V]{shared: map[K]*shared[V]{}}
}

type shared[V component.Component] struct {
	value V
	refs  int // Refs not yet shut down; guarded by the Map's mu

	startOnce sync.Once
	startErr  error
}

// Ref is one signal's hold on a shared value.
type Ref[V component.Component] struct {
	s       *shared[V]
	release func() (last bool)

	stopOnce sync.Once
	stopErr  error
}

// LoadOrStore returns a new Ref on the value of key, creating the value when
// key has none. Every Ref it returns must be shut down, the Ref of a signal
// whose creation failed after this call included: the value is shut down and
// its key forgotten when the last Ref is.
func (m *Map[K, V]) LoadOrStore(key K, create func() (V, error)) (*Ref[V], error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.shared[key]
	if !ok {
		v, err := create()
		if err != nil {
			return nil, err
		}
		s = &shared[V]{value: v}
		m.shared[key] = s
	}
	s.refs++
	return &Ref[V]{s: s, release: func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		s.refs--
		if s.refs > 0 {
			return false
		}
		delete(m.shared, key)
		return true
	}}, nil
}

// Load returns the live value of key.
func (m *Map[K, V]) Load(key K) (V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.shared[key]
	if !ok {
		var zero V
		return zero, false
	}
	return s.value, true
}

// Refs returns how many Refs hold the value of key (0: none live): the
// signals sharing it, those whose creation failed let go already.
func (m *Map[K, V]) Refs(key K) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.shared[key]; ok {
		return s.refs
	}
	return 0
}

// Unwrap returns the shared value.
func (r *Ref[V]) Unwrap() V { return r.s.value }

// Start starts the shared value if no Ref started it yet, and returns the
// error of that one start to every Ref.
func (r *Ref[V]) Start(ctx context.Context, host component.Host) error {
	s := r.s
	s.startOnce.Do(func() { s.startErr = s.value.Start(ctx, host) })
	return s.startErr
}

// Shutdown lets go of this Ref; the last Ref's Shutdown shuts the value down
// within ctx (started or not: a collector that failed to start shuts down
// what it created) and forgets its key, so that a new component with the same
// configuration gets a new value. A second call returns the first's result.
func (r *Ref[V]) Shutdown(ctx context.Context) error {
	r.stopOnce.Do(func() {
		if r.release() {
			r.stopErr = r.s.value.Shutdown(ctx)
		}
	})
	return r.stopErr
}
