// Package openstacktest is an in-process OpenStack API simulator served over
// real HTTP, in the manner of net/http/httptest: start one with NewServer,
// point gophercloud (or any OpenStack client) at its clouds.yaml, and Close it
// when done.
//
// It keeps state like a small cloud (Keystone, Nova, Neutron, Octavia, Glance,
// Cinder) and follows the OpenStack API reference for status codes, error
// bodies, state transitions, pagination and filters, so that code tested
// against it behaves the same on a real cloud. Tests can inject latency and
// faults, count calls per operation, take a snapshot of every live resource
// and run hooks (ServerHooks) when a server spawns, becomes ACTIVE, is
// stopped, started, rebooted or deleted and when load balancer frontends
// change, so that a machine runtime can boot servers for real.
//
// A Server is safe for concurrent use.
package openstacktest
