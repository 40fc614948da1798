// Package registry is the one registration rule of drgrade's extension points (models.Register,
// loss.Register, trainer.RegisterMetric), like image.RegisterFormat: a name maps to a value; an
// empty name, a nil value or a name already taken is an error returned to the caller, never a
// panic, so that all three registries answer the same way.
package registry

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
)

// Registry maps names to values of T; safe for concurrent use.
type Registry[T any] struct {
	what string // the registering function, for errors: "models: Register"
	noun string // what a value is, for errors: "constructor"
	mu   sync.RWMutex
	m    map[string]T
}

// New returns an empty registry whose errors begin with what (e.g. "loss: Register") and call a
// value noun (e.g. "constructor").
func New[T any](what, noun string) *Registry[T] {
	return &Registry[T]{what: what, noun: noun, m: map[string]T{}}
}

// Niler is a value type with a nil form of its own (a struct holding a constructor).
type Niler interface{ IsNil() bool }

// Add registers v under name. An empty (or blank) name, a nil v (a nil func, pointer, map or
// interface, or a Niler saying so) or a name already taken is an error naming the registry and
// the name.
func (r *Registry[T]) Add(name string, v T) error {
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("%s with an empty name", r.what)
	}
	if isNil(v) {
		return fmt.Errorf("%s(%q) with a nil %s", r.what, name, r.noun)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.m[name]; dup {
		return fmt.Errorf("%s(%q): %w", r.what, name, ErrTaken)
	}
	r.m[name] = v
	return nil
}

// ErrTaken is the error (wrapped) of Add for a name already registered.
var ErrTaken = errors.New("the name is already registered")

// Get returns the value registered as name.
func (r *Registry[T]) Get(name string) (T, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	v, ok := r.m[name]
	return v, ok
}

// Names lists the registered names, sorted; keep, when non-nil, filters them.
func (r *Registry[T]) Names(keep func(name string, v T) bool) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.m))
	for n, v := range r.m {
		if keep == nil || keep(n, v) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func isNil[T any](v T) bool {
	if n, ok := any(v).(Niler); ok {
		return n.IsNil()
	}
	rv := reflect.ValueOf(&v).Elem()
	switch rv.Kind() {
	case reflect.Func, reflect.Pointer, reflect.Map, reflect.Interface, reflect.Slice, reflect.Chan:
		return rv.IsNil()
	}
	return false
}
