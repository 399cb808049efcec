// Package realstack describes the small real OpenStack that realstack.sh (in
// this directory) runs on 127.0.0.1 for openstrap's real-OpenStack test lane:
// Debian 12's OpenStack Zed packages (Keystone, Glance, Placement, Nova with
// the fake virt driver, Neutron ML2 without agents, Octavia with no-op
// drivers but real VIP ports), seeded to look like provider/openstacktest's
// fresh cloud.
//
// The script does the work; this package tells Go tests how to find the
// stack (the clouds.yaml it writes and the cloud names in it) and lists the
// behaviours the local services cannot show, each with its reason, for the
// per-test marks that keep a test that cannot run there a known gap and not
// a silent skip.
//
//	internal/realstack/realstack.sh up     # install if missing, start, seed
//	eval "$(internal/realstack/realstack.sh env)"   # OS_CLOUD, OS_CLIENT_CONFIG_FILE
//	go test ./...                            # suites that honour OS_CLOUD
//	internal/realstack/realstack.sh down
//
// The package holds no state; its functions only read what they are given.
package realstack
