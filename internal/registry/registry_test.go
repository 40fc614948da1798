package registry

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
)

type ctor func(int) (int, error)

type entry struct {
	f   ctor
	cfg int
}

func (e entry) IsNil() bool { return e.f == nil }

// TestAdd: the one rule, for a func value and for a struct holding one (models' case, which
// checks its constructor itself): taken, empty and nil are errors naming the registry and the
// name; Get and Names see what was added.
func TestAdd(t *testing.T) {
	r := New[ctor]("demo: Register", "constructor")
	double := func(n int) (int, error) { return 2 * n, nil }
	if err := r.Add("double", double); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		f    ctor
		want string
	}{
		{"double", double, `demo: Register("double"): the name is already registered`},
		{"", double, "demo: Register with an empty name"},
		{" \t", double, "demo: Register with an empty name"},
		{"nil_ctor", nil, `demo: Register("nil_ctor") with a nil constructor`},
	} {
		err := r.Add(c.name, c.f)
		if err == nil || err.Error() != c.want {
			t.Errorf("Add(%q): %v, want %q", c.name, err, c.want)
		}
	}
	if err := r.Add("double", double); !errors.Is(err, ErrTaken) {
		t.Errorf("a taken name: %v is not ErrTaken", err)
	}
	if f, ok := r.Get("double"); !ok || f == nil {
		t.Fatal("Get(double) missing")
	} else if v, _ := f(21); v != 42 {
		t.Errorf("Get returned another function: %d", v)
	}
	if _, ok := r.Get("nil_ctor"); ok {
		t.Error("a refused registration is there")
	}
	s := New[entry]("models: Register", "constructor")
	if err := s.Add("a", entry{f: double, cfg: 1}); err != nil {
		t.Errorf("a struct value: %v", err)
	}
	if err := s.Add("b", entry{cfg: 1}); err == nil || !strings.Contains(err.Error(), "nil constructor") {
		t.Errorf("a Niler saying nil: %v", err)
	}
	if err := s.Add("a", entry{f: double, cfg: 2}); err == nil || !strings.Contains(err.Error(), `models: Register("a")`) {
		t.Errorf("struct registry, taken name: %v", err)
	}
	if v, _ := s.Get("a"); v.cfg != 1 {
		t.Errorf("a taken name replaced the first registration: %+v", v)
	}
}

// TestNames: sorted, filtered, and consistent under concurrent Add (run with -race).
func TestNames(t *testing.T) {
	r := New[int]("n", "value")
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := r.Add(fmt.Sprintf("k%02d", i), i); err != nil {
				t.Error(err)
			}
			r.Names(nil)
		}(i)
	}
	wg.Wait()
	all := r.Names(nil)
	if len(all) != 20 || all[0] != "k00" || all[19] != "k19" {
		t.Fatalf("Names: %v", all)
	}
	even := r.Names(func(_ string, v int) bool { return v%2 == 0 })
	if want := []string{"k00", "k02", "k04", "k06", "k08", "k10", "k12", "k14", "k16", "k18"}; !reflect.DeepEqual(even, want) {
		t.Errorf("filtered: %v", even)
	}
}
