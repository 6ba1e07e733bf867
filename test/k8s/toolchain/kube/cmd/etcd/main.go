// Command etcd is etcd 3.6 built from the same module graph as the pinned Kubernetes release, because
// the machine's packaged etcd is too old for current API servers and nothing else may be downloaded.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
