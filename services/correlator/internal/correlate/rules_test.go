package correlate

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/validation"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

func TestEveryTypeHasARankAndAWeight(t *testing.T) {
	for _, typ := range platformv1alpha1.SignalTypes {
		if _, ok := causeRank[typ]; !ok {
			t.Errorf("%s has no cause rank", typ)
		}
		if _, ok := riskWeights[typ]; !ok {
			t.Errorf("%s has no risk weight", typ)
		}
	}
}

func TestMoreCausal(t *testing.T) {
	tests := map[string]struct {
		reason string
		a, b   platformv1alpha1.SignalType
		want   bool
	}{
		"OOMOverCrashLoop":     {reason: "the OOM kill explains the crash loop", a: "oom_kill", b: "crashloop_backoff", want: true},
		"CrashLoopOverRestart": {reason: "the crash loop explains the restarts", a: "crashloop_backoff", b: "pod_restart", want: true},
		"ImageOverNotReady":    {reason: "a bad image explains an unready pod", a: "image_pull_error", b: "pod_not_ready", want: true},
		"SymptomNotOverCause":  {reason: "a restart never replaces its cause", a: "pod_restart", b: "oom_kill", want: false},
		"TieKeeps":             {reason: "a type does not replace itself", a: "oom_kill", b: "oom_kill", want: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := MoreCausal(tc.a, tc.b); got != tc.want {
				t.Errorf("%s: MoreCausal(%s, %s) = %v", tc.reason, tc.a, tc.b, got)
			}
		})
	}
}

func TestRiskAndSeverity(t *testing.T) {
	tests := map[string]struct {
		reason   string
		types    []platformv1alpha1.SignalType
		risk     int32
		severity platformv1alpha1.Severity
	}{
		"OOMTriple": {
			reason: "one OOM fault: 30 + 20 + 20", types: []platformv1alpha1.SignalType{"oom_kill", "crashloop_backoff", "pod_restart"},
			risk: 70, severity: platformv1alpha1.SeverityHigh,
		},
		"Repeats": {
			reason: "a type counts once", types: []platformv1alpha1.SignalType{"pod_restart", "pod_restart", "pod_restart"},
			risk: 20, severity: platformv1alpha1.SeverityLow,
		},
		"SeedWeights": {
			reason: "the seed's five weights", types: []platformv1alpha1.SignalType{"error_rate", "deploy_failing"},
			risk: 50, severity: platformv1alpha1.SeverityMedium,
		},
		"Capped": {
			reason: "risk never passes 100",
			types:  []platformv1alpha1.SignalType{"oom_kill", "node_not_ready", "error_rate", "deploy_failing", "pod_restart"},
			risk:   100, severity: platformv1alpha1.SeverityCritical,
		},
		"Eighty": {
			reason: "80 is critical", types: []platformv1alpha1.SignalType{"oom_kill", "error_rate", "deploy_failing"},
			risk: 80, severity: platformv1alpha1.SeverityCritical,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			risk := RiskScore(tc.types)
			if risk != tc.risk || SeverityFor(risk) != tc.severity {
				t.Errorf("%s: risk %d severity %s, want %d %s", tc.reason, risk, SeverityFor(risk), tc.risk, tc.severity)
			}
		})
	}
}

func TestTypesRoundTrip(t *testing.T) {
	in := []platformv1alpha1.SignalType{"pod_restart", "oom_kill", "pod_restart"}
	got := ParseTypes(FormatTypes(in) + ",nonsense,")
	if diff := cmp.Diff([]platformv1alpha1.SignalType{"oom_kill", "pod_restart"}, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestIssueNames(t *testing.T) {
	deploy := platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: "prod", Name: "api-gateway"}
	sts := platformv1alpha1.ResourceReference{Kind: "StatefulSet", Namespace: "prod", Name: "api-gateway"}
	long := platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: "prod", Name: strings.Repeat("very-long.name-", 16)}
	if got := IssueName(deploy, 0); got != "api-gateway-deployment-"+ResourceKey(deploy)[:10]+"-0" {
		t.Fatalf("IssueName = %q, want <name>-<kind>-<key>-<generation>", got)
	}
	if IssueName(deploy, 0) == IssueName(sts, 0) || IssueName(deploy, 0) == IssueName(deploy, 1) {
		t.Fatal("different resources or generations share a name")
	}
	recreated := deploy
	recreated.UID = "new"
	if IssueName(deploy, 0) != IssueName(recreated, 0) {
		t.Fatal("a recreated object must find the Issue open for its name")
	}
	for _, name := range []string{IssueName(deploy, 12), IssueName(long, 3), IssueName(platformv1alpha1.ResourceReference{Kind: "Node", Name: "..."}, 0)} {
		if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 || len(name) > 100 {
			t.Errorf("%q is not a short DNS subdomain: %v", name, errs)
		}
	}
}

func FuzzIssueName(f *testing.F) {
	f.Add("Deployment", "api-gateway", 0)
	f.Add("", "...", 7)
	f.Fuzz(func(t *testing.T, kind, name string, generation int) {
		if generation < 0 {
			generation = -generation
		}
		got := IssueName(platformv1alpha1.ResourceReference{Kind: kind, Name: name}, generation%1000)
		if errs := validation.IsDNS1123Subdomain(got); len(errs) > 0 {
			t.Fatalf("%q: %v", got, errs)
		}
	})
}
