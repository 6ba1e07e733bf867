// Command coredns is CoreDNS with the plugins that serve a Kubernetes cluster's names and nothing else. CoreDNS picks
// its plugins at compile time: the imports below register them, and Directives fixes the order in which they handle a
// query (the order of CoreDNS's own plugin.cfg for these plugins). There is no forward plugin: the test layer's
// network namespace has no upstream resolver, so names outside the cluster are refused rather than sent anywhere.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

func init() {
	dnsserver.Directives = []string{
		"health",
		"ready",
		"log",
		"errors",
		"loadbalance",
		"cache",
		"kubernetes",
	}
}

func main() {
	coremain.Run()
}
