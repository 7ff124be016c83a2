package chart

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/chatcli/aiops/e2e/cluster"
)

// flagLine is a flag in a Go flag package usage text: "  -name type".
var flagLine = regexp.MustCompile(`(?m)^\s+-([a-z0-9-]+)`)

// TestDeploymentsPassOnlyRealFlags renders every scenario and checks each
// container's args, and each CHATCLI_<FLAG> variable, against the flags
// the service's own binary (bin/, built by make test) lists in its usage: a renamed or removed flag
// would crash-loop the Deployment at start.
func TestDeploymentsPassOnlyRealFlags(t *testing.T) {
	known := map[string]map[string]bool{}
	flagsOf := func(service string) map[string]bool {
		if f, ok := known[service]; ok {
			return f
		}
		bin, err := cluster.Binary(service)
		if err != nil {
			t.Fatal(err)
		}
		// -h prints the usage and exits 0 or 2; only the text matters.
		out, _ := exec.Command(bin, "-h").CombinedOutput()
		flags := map[string]bool{}
		for _, m := range flagLine.FindAllStringSubmatch(string(out), -1) {
			flags[m[1]] = true
		}
		if len(flags) < 10 {
			t.Fatalf("%s -h listed %d flags:\n%s", service, len(flags), out)
		}
		known[service] = flags
		return flags
	}
	checked := 0
	for name, vals := range scenarios(t) {
		for _, obj := range objects(t, mustRender(t, vals)) {
			if obj.GetKind() != "Deployment" {
				continue
			}
			service := obj.GetLabels()["app.kubernetes.io/component"]
			containers, _, _ := unstructuredSlice(obj.Object, "spec", "template", "spec", "containers")
			for _, c := range containers {
				container := c.(map[string]any)
				args, _ := container["args"].([]any)
				for _, a := range args {
					arg, _ := a.(string)
					checked++
					flag, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
					if !strings.HasPrefix(arg, "-") || !flagsOf(service)[flag] {
						t.Errorf("%s: Deployment %s passes %q, which %s does not define", name, obj.GetName(), arg, service)
					}
				}
				envs, _ := container["env"].([]any)
				for _, e := range envs {
					envName, _ := e.(map[string]any)["name"].(string)
					if !strings.HasPrefix(envName, "CHATCLI_") {
						continue
					}
					flag := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(envName, "CHATCLI_")), "_", "-")
					if !flagsOf(service)[flag] && !nonFlagEnv[envName] {
						t.Errorf("%s: Deployment %s sets %s, which is no flag of %s", name, obj.GetName(), envName, service)
					}
				}
			}
		}
	}
	if checked < 50 {
		t.Fatalf("only %d args checked: the Deployments' containers were not found", checked)
	}
}

// nonFlagEnv are CHATCLI_ variables the services read that are not flags.
var nonFlagEnv = map[string]bool{
	"CHATCLI_AUDIT_LOG_PATH":     true,
	"CHATCLI_OPERATOR_DEV_MODE":  true,
	"CHATCLI_LOG_SCRUB_PATTERNS": true,
}

func unstructuredSlice(obj map[string]any, path ...string) ([]any, bool, error) {
	var cur any = obj
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false, nil
		}
		cur = m[p]
	}
	s, ok := cur.([]any)
	return s, ok, nil
}
