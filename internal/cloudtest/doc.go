// Package cloudtest gives OpenStack-facing integration tests their cloud
// from the environment: the in-process simulator (provider/openstacktest) by
// default, or a real cloud when $OS_CLOUD names one in clouds.yaml (found the
// way provider.Connect finds it: $OS_CLIENT_CONFIG_FILE and the usual places).
//
// On a real cloud it stands in for what tests use from the simulator where
// the public APIs allow it: a snapshot of the member project's resources,
// unique cluster names so that tests do not collide on a shared cloud, and a
// cleanup that deletes what carries a cluster's ownership tag. What cannot be
// replaced (fault injection, latency, call counters, boot hooks) is a known
// gap: a test calls RequireSim with a reason registered in Gaps, and is
// skipped on a real cloud with that reason.
package cloudtest
