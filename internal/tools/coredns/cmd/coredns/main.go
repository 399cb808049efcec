// Command coredns is CoreDNS (the version the wrapper module pins) built with
// only the plugins a kube-system CoreDNS needs: those of kubeadm's default
// Corefile, the server basics, and the few commonly added to that Corefile.
// Linking CoreDNS's full plugin set pulls in cloud SDKs (Route 53, Azure,
// Cloud DNS), tracing and etcd clients, which made a cold build several
// times slower; this is CoreDNS's documented way to choose plugins at
// compile time.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/autopath"
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/bufsize"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/debug"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/file"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/k8s_external"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metadata"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/pprof"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
	_ "github.com/coredns/coredns/plugin/rewrite"
	_ "github.com/coredns/coredns/plugin/root"
	_ "github.com/coredns/coredns/plugin/template"
	_ "github.com/coredns/coredns/plugin/timeouts"
	_ "github.com/coredns/coredns/plugin/whoami"
)

// directives are the linked plugins in the order CoreDNS's plugin.cfg gives
// them (the order a query passes through them). Each needs its import above
// (prometheus is the metrics package), except dnstap and transfer, which
// forward, file and kubernetes link anyway.
var directives = []string{
	"root",
	"metadata",
	"timeouts",
	"reload",
	"bufsize",
	"bind",
	"debug",
	"ready",
	"health",
	"pprof",
	"prometheus",
	"errors",
	"log",
	"dnstap",
	"loadbalance",
	"cache",
	"rewrite",
	"autopath",
	"template",
	"transfer",
	"hosts",
	"k8s_external",
	"kubernetes",
	"file",
	"loop",
	"forward",
	"whoami",
}

func init() {
	dnsserver.Directives = directives
}

func main() {
	coremain.Run()
}
