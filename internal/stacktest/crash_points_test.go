package stacktest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openstrap/openstrap/provider/openstacktest"
)

func TestCrashPoints(t *testing.T) {
	full := crashPoints(40, true, 13)
	if len(full) != 80 {
		t.Fatalf("full sweep of 40 writes: %d points, want 80", len(full))
	}
	seen := map[crashPoint]bool{}
	for _, p := range full {
		seen[p] = true
	}
	if len(seen) != 80 {
		t.Errorf("full sweep repeats points: %d distinct", len(seen))
	}

	for _, seed := range []uint64{0, 1, 13, 99} {
		s := crashPoints(40, false, seed)
		if len(s) != crashSampleSize {
			t.Errorf("seed %d: %d points, want %d: %v", seed, len(s), crashSampleSize, s)
		}
		if s[0].k != 1 || s[len(s)-1].k != 40 {
			t.Errorf("seed %d: the sample must hold the first and last write: %v", seed, s)
		}
		modes := map[openstacktest.FaultAction]int{}
		for i, p := range s {
			modes[p.mode]++
			if p.k < 1 || p.k > 40 || (i > 0 && p.k < s[i-1].k) {
				t.Errorf("seed %d: point %v out of range or order: %v", seed, p, s)
			}
		}
		if modes[openstacktest.DropBefore] == 0 || modes[openstacktest.DropAfter] == 0 {
			t.Errorf("seed %d: both modes must be swept: %v", seed, s)
		}
		if again := crashPoints(40, false, seed); !cmp.Equal(s, again, cmp.AllowUnexported(crashPoint{})) {
			t.Errorf("seed %d: the sample is not deterministic: %v then %v", seed, s, again)
		}
	}
	if s := crashPoints(1, false, 13); len(s) != 2 || s[0].k != 1 || s[1].k != 1 {
		t.Errorf("one write: %v, want it in both modes", s)
	}

	got, err := parseCrashPoints("3:before, 7:after", 40)
	if want := []crashPoint{{3, openstacktest.DropBefore}, {7, openstacktest.DropAfter}}; err != nil || !cmp.Equal(want, got, cmp.AllowUnexported(crashPoint{})) {
		t.Errorf("parseCrashPoints: %v, %v", got, err)
	}
	for _, bad := range []string{"0:before", "41:after", "3:sideways", "3"} {
		if _, err := parseCrashPoints(bad, 40); err == nil {
			t.Errorf("parseCrashPoints(%q) accepted", bad)
		}
	}
}

func TestCrashAdded(t *testing.T) {
	before := []openstacktest.Resource{{Service: "network", Kind: "network", ID: "n0", Name: "public"}}
	run := func(cluster, cp, md, lb string) []openstacktest.Resource {
		return append(append([]openstacktest.Resource(nil), before...),
			openstacktest.Resource{Service: "compute", Kind: "server", ID: cp, Name: cluster + "-control-plane-" + cp},
			openstacktest.Resource{Service: "network", Kind: "port", ID: md, Name: cluster + "-md-0-x7m55-" + md + "-0"},
			openstacktest.Resource{Service: "network", Kind: "port", ID: lb, Name: "octavia-lb-" + lb},
		)
	}
	a := crashAdded(before, run("crash-clean", "k5dms", "gk5x2", "d1a8f0d2-25ee-4053-a5be-99b7e6ae5e14"), "crash-clean")
	b := crashAdded(before, run("crash-3-after", "zz9q2", "abcde", "0a8f0d21-25ee-4053-a5be-99b7e6ae5e15"), "crash-3-after")
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("two creations differ after normalising (-a +b):\n%s", diff)
	}
	if len(a) != 3 {
		t.Errorf("added %v, want the three new resources", a)
	}
	dup := crashAdded(before, append(run("c", "k5dms", "gk5x2", "d1a8f0d2-25ee-4053-a5be-99b7e6ae5e14"),
		openstacktest.Resource{Service: "network", Kind: "port", ID: "p2", Name: "c-md-0-x7m55-gk5x2-0"}), "c")
	if cmp.Equal(a, dup) {
		t.Error("a duplicate port compares equal to one creation")
	}
}

func TestCrashPointString(t *testing.T) {
	ps := []crashPoint{{31, openstacktest.DropAfter}, {2, openstacktest.DropBefore}}
	for _, p := range ps {
		back, err := parseCrashPoints(p.String(), 40)
		if err != nil || len(back) != 1 || back[0] != p {
			t.Errorf("%v does not parse back: %v, %v", p, back, err)
		}
	}
}
