package openstacktest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseDictLiteral(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]string
		ok   bool
	}{
		{"{'k':'v'}", map[string]string{"k": "v"}, true},
		{"{'a': 'x, y', 'b':'2'}", map[string]string{"a": "x, y", "b": "2"}, true},
		{`{"openstrap-cluster": "demo"}`, map[string]string{"openstrap-cluster": "demo"}, true},
		{"{}", map[string]string{}, true},
		{"k=v", nil, false},
		{"{'k'}", nil, false},
		{"{'k':'v' junk}", nil, false},
	}
	for _, tt := range tests {
		got, ok := parseDictLiteral(tt.in)
		if ok != tt.ok || !cmp.Equal(got, tt.want) {
			t.Errorf("parseDictLiteral(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseAPIVersion(t *testing.T) {
	tests := []struct {
		in   string
		want apiVersion
		ok   bool
	}{
		{"2.1", apiVersion{2, 1}, true},
		{" 2.93 ", apiVersion{2, 93}, true},
		{"3.70", apiVersion{3, 70}, true},
		{"2", apiVersion{}, false},
		{"2.x", apiVersion{}, false},
		{"-1.2", apiVersion{}, false},
	}
	for _, tt := range tests {
		got, ok := parseAPIVersion(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("parseAPIVersion(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	if !(apiVersion{2, 52}).atLeast(2, 26) || (apiVersion{2, 25}).atLeast(2, 26) || !(apiVersion{3, 0}).atLeast(2, 99) {
		t.Error("atLeast ordering is wrong")
	}
}

func TestMatchTags(t *testing.T) {
	have := []string{"a", "b"}
	tests := []struct {
		all, anyOf, notAll, notAny []string
		want                       bool
	}{
		{all: []string{"a", "b"}, want: true},
		{all: []string{"a", "c"}, want: false},
		{anyOf: []string{"c", "b"}, want: true},
		{anyOf: []string{"c", "d"}, want: false},
		{notAll: []string{"a", "b"}, want: false},
		{notAll: []string{"a", "c"}, want: true},
		{notAny: []string{"c", "a"}, want: false},
		{notAny: []string{"c", "d"}, want: true},
	}
	for i, tt := range tests {
		if got := matchTags(have, tt.all, tt.anyOf, tt.notAll, tt.notAny); got != tt.want {
			t.Errorf("case %d: matchTags = %v, want %v", i, got, tt.want)
		}
	}
}
