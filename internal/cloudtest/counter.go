package cloudtest

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"

	"github.com/openstrap/openstrap/provider"
	"github.com/openstrap/openstrap/provider/openstacktest"
)

// Counter is an http.RoundTripper that counts the requests a Cloud's
// clients send, under the simulator's operation keys (openstacktest.Calls,
// such as "DELETE /compute/v2.1/servers/{id}"), so that call-count
// assertions hold on a real cloud as on the simulator. It counts what the
// client sends: Keystone token requests (a re-authentication's too, which
// Calls.Writes leaves out) and a request gophercloud repeats after a 401,
// but none of the work a service does in the background.
type Counter struct {
	base http.RoundTripper

	mu sync.Mutex
	// raw counts method + " " + URL without its query.
	raw map[string]int
	// prefixes map endpoint URLs to the simulator's path prefixes, longest
	// first.
	prefixes [][2]string
}

func newCounter(base http.RoundTripper) *Counter {
	if base == nil {
		base = http.DefaultTransport
	}
	return &Counter{base: base, raw: map[string]int{}}
}

// RoundTrip counts r and sends it through the underlying transport.
func (c *Counter) RoundTrip(r *http.Request) (*http.Response, error) {
	u := *r.URL
	u.RawQuery, u.Fragment = "", ""
	c.mu.Lock()
	c.raw[r.Method+" "+u.String()]++
	c.mu.Unlock()
	return c.base.RoundTrip(r)
}

// bind learns the endpoints of cl, whose clients send through c.
func (c *Counter) bind(cl *provider.Cloud) {
	var p [][2]string
	add := func(endpoint, sim string) {
		if endpoint != "" {
			p = append(p, [2]string{strings.TrimSuffix(endpoint, "/") + "/", sim})
		}
	}
	add(cl.Provider.IdentityBase, "/identity/")
	add(cl.Compute.Endpoint, "/compute/v2.1/")
	add(cl.Network.Endpoint, "/network/")
	add(cl.Image.Endpoint, "/image/")
	if cl.LoadBalancer != nil {
		add(cl.LoadBalancer.Endpoint, "/load-balancer/")
	}
	if cl.BlockStorage != nil {
		// The simulator's routes take any project ID.
		add(cl.BlockStorage.Endpoint, "/volume/v3/project/")
	}
	sort.SliceStable(p, func(i, j int) bool { return len(p[i][0]) > len(p[j][0]) })
	c.mu.Lock()
	c.prefixes = p
	c.mu.Unlock()
}

// Calls returns the requests sent since the Cloud was made or since the
// last Reset, by operation.
func (c *Counter) Calls() openstacktest.Calls {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := openstacktest.Calls{}
	for k, n := range c.raw {
		method, rawURL, _ := strings.Cut(k, " ")
		out[c.route(method, rawURL)] += n
	}
	return out
}

// route maps a request URL onto the simulator's layout and names its
// operation there; a URL under no endpoint keeps its host and path.
func (c *Counter) route(method, rawURL string) string {
	for _, p := range c.prefixes {
		if rest, ok := strings.CutPrefix(rawURL, p[0]); ok {
			return openstacktest.Route(method, p[1]+rest)
		}
	}
	if u, err := url.Parse(rawURL); err == nil {
		return method + " (no endpoint) " + u.Host + u.Path
	}
	return method + " (no endpoint)"
}

// Reset sets every count to zero.
func (c *Counter) Reset() {
	c.mu.Lock()
	c.raw = map[string]int{}
	c.mu.Unlock()
}
