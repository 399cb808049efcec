package infra_test

import (
	"testing"
	"time"

	"github.com/openstrap/openstrap/provider/openstacktest"
)

func crashCases() []crashCase {
	return []crashCase{
		{name: "network only", spec: netOnlySpec(), setup: func(t testing.TB) *env { return newNetEnv(t) }},
		{name: "load balancer", spec: baseSpec(), setup: func(t testing.TB) *env {
			return newEnv(t, openstacktest.WithLoadBalancerDelay(5*time.Millisecond))
		}},
	}
}
