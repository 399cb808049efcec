package infra_test

import "testing"

func crashCases() []crashCase {
	return []crashCase{
		{name: "network only", spec: netOnlySpec(), setup: func(t testing.TB) *env { return newNetEnv(t) }},
	}
}
