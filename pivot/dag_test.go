package pivot

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// TestRunDAG checks that every node runs exactly once, after its owners, and
// that the first error stops the run.
func TestRunDAG(t *testing.T) {
	g, err := NewGraph(testTypes, append(clusterObjs("ns", "c1", 8), clusterObjs("ns", "c2", 8)...), Selector{})
	if err != nil {
		t.Fatal(err)
	}
	for _, conc := range []int{1, 3, 64} {
		for range 20 {
			m := newMover(Options{Concurrency: conc}, Selector{})
			var mu sync.Mutex
			runs := map[*Node]int{}
			err := m.runDAG(context.Background(), PhaseCreate, g.Moved(), g.movedOwners, func(_ context.Context, n *Node) error {
				mu.Lock()
				defer mu.Unlock()
				for _, o := range g.movedOwners(n) {
					if runs[o] != 1 {
						t.Errorf("%s ran before its owner %s", n.Ref, o.Ref)
					}
				}
				runs[n]++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range g.Moved() {
				if runs[n] != 1 {
					t.Fatalf("concurrency %d: %s ran %d times", conc, n.Ref, runs[n])
				}
			}
		}
	}
	boom := errors.New("boom")
	m := newMover(Options{Concurrency: 2}, Selector{})
	err = m.runDAG(context.Background(), PhaseCreate, g.Moved(), g.movedOwners, func(_ context.Context, n *Node) error {
		if n.Ref.Kind == "Machine" {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
}
