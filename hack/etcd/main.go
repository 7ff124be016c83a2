// Command etcd is etcd v3.6 built from the Go module proxy. Debian ships 3.4,
// whose watch streams stall current informers.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
