package app

import (
	"flag"
	"io"
	"testing"

	"github.com/chatcli/aiops/libs/bootstrap"
)

func TestFlags(t *testing.T) {
	cases := map[string]struct {
		reason string
		args   []string
		ok     bool
	}{
		"NoNamespaces": {reason: "Without Instance namespaces the operator starts and reconciles nothing.", ok: true},
		"Complete": {
			reason: "Namespaces, the watcher ClusterRole and a pinned tag are enough.",
			args:   []string{"--instance-namespaces=apps,shop", "--watcher-cluster-role=chatcli-instance-watcher", "--server-image-tag=0.1.0"},
			ok:     true,
		},
		"NoClusterRole": {
			reason: "A cross-namespace watcher needs the chart's ClusterRole.",
			args:   []string{"--instance-namespaces=apps", "--server-image-tag=0.1.0"},
		},
		"LatestTag": {
			reason: "The server image is pinned.",
			args:   []string{"--instance-namespaces=apps", "--watcher-cluster-role=r", "--server-image-tag=latest"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			fs := flag.NewFlagSet("instance-operator", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			_, err := bootstrap.ParseCommandLine(Service(), fs, tc.args)
			if (err == nil) != tc.ok {
				t.Errorf("%s\nParseCommandLine(%q) error = %v; want ok: %t", tc.reason, tc.args, err, tc.ok)
			}
		})
	}
}
