package v1alpha1_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// Minimal valid objects; each case breaks one field.
const (
	validAnomaly = `
kind: Anomaly
spec:
  signalType: oom_kill
  source: watcher
  severity: high
  resource: {kind: Deployment, name: api, namespace: validation}
  detectedAt: "2026-02-16T10:30:00Z"`
	validIssue = `
kind: Issue
spec:
  severity: high
  source: watcher
  signalType: pod_restart
  resource: {kind: Deployment, name: api, namespace: validation}
  riskScore: 65`
	validPlan = `
kind: RemediationPlan
spec:
  issueRef: {name: api-issue}
  attempt: 1
  actions:
  - type: RestartDeployment`
	validInstance = `
kind: Instance
spec:
  provider: CLAUDEAI`
	validInsight = `
kind: AIInsight
spec:
  issueRef: {name: api-issue}`
	validPostMortem = `
kind: PostMortem
spec:
  issueRef: {name: api-issue}
  resource: {kind: Deployment, name: api, namespace: validation}
  severity: high`
	validRunbook = `
kind: Runbook
spec:
  trigger: {severity: high, resourceKind: Deployment}
  steps:
  - {name: restart, action: RestartDeployment}`
)

// TestInvalidObjectsAreRefused proves that the schema refuses bad objects
// with a message that names the offending field.
func TestInvalidObjectsAreRefused(t *testing.T) {
	expectRefused(t, map[string]refusal{
		"UnknownSignalType": {
			reason: "signal types are a closed set of 24",
			base:   validAnomaly, patch: `spec: {signalType: disk_full}`,
			wantField: "spec.signalType", wantMessage: `Unsupported value: "disk_full"`,
		},
		"UnknownSource": {
			reason: "sources are a closed set",
			base:   validAnomaly, patch: `spec: {source: twitter}`,
			wantField: "spec.source", wantMessage: `Unsupported value: "twitter"`,
		},
		"NamespacedResourceWithoutNamespace": {
			reason: "a Deployment cannot be addressed without its namespace",
			base:   validAnomaly, patch: `spec: {resource: {namespace: ""}}`,
			wantField: "spec.resource", wantMessage: "namespace is required for namespaced kinds",
		},
		"AnomalySpecChanged": {
			reason: "an Anomaly records a fact and never changes",
			base:   validAnomaly, update: `spec: {severity: low}`,
			wantField: "spec", wantMessage: "spec is immutable",
		},
		"RiskScoreAbove100": {
			reason: "risk scores are capped at 100",
			base:   validIssue, patch: `spec: {riskScore: 101}`,
			wantField: "spec.riskScore", wantMessage: "should be less than or equal to 100",
		},
		"UnknownIssueSeverity": {
			reason: "incident severities are critical, high, medium and low",
			base:   validIssue, patch: `spec: {severity: catastrophic}`,
			wantField: "spec.severity", wantMessage: `Unsupported value: "catastrophic"`,
		},
		"UnknownIssueState": {
			reason: "Issue states are a closed set",
			base:   validIssue, status: `status: {state: Exploded}`,
			wantField: "status.state", wantMessage: `Unsupported value: "Exploded"`,
		},
		"AttemptsBeyondMax": {
			reason: "an Issue cannot have used more attempts than it allows",
			base:   validIssue, status: `status: {state: Remediating, remediationAttempts: 4, maxRemediationAttempts: 3}`,
			wantField: "status", wantMessage: "remediationAttempts cannot exceed maxRemediationAttempts",
		},
		"UnknownActionType": {
			reason: "actions come from the catalogue",
			base:   validPlan, patch: `spec: {actions: [{type: NukeCluster}]}`,
			wantField: "spec.actions[0].type", wantMessage: `Unsupported value: "NukeCluster"`,
		},
		"ScaleWithoutReplicas": {
			reason: "a scale action means nothing without a replica count",
			base:   validPlan, patch: `spec: {actions: [{type: ScaleDeployment}]}`,
			wantField: "spec.actions[0]", wantMessage: "scale actions need a replicas param",
		},
		"PlanWithoutActions": {
			reason: "only an agentic plan may start empty",
			base:   validPlan, patch: `spec: {actions: []}`,
			wantField: "spec", wantMessage: "a plan needs actions unless agenticMode is true",
		},
		"AttemptZero": {
			reason: "attempts count from 1",
			base:   validPlan, patch: `spec: {attempt: 0}`,
			wantField: "spec.attempt", wantMessage: "should be greater than or equal to 1",
		},
		"AgenticStepsBeyondMax": {
			reason: "the agentic loop is bounded",
			base:   validPlan, patch: `spec: {agenticMode: true, agenticMaxSteps: 1, agenticHistory: [{stepNumber: 1}, {stepNumber: 2}]}`,
			wantField: "spec", wantMessage: "agenticHistory cannot exceed agenticMaxSteps",
		},
		"UnknownPlanState": {
			reason: "plan states are a closed set",
			base:   validPlan, status: `status: {state: Done}`,
			wantField: "status.state", wantMessage: `Unsupported value: "Done"`,
		},
		"NegativeReplicas": {
			reason: "replicas cannot be negative",
			base:   validInstance, patch: `spec: {replicas: -1}`,
			wantField: "spec.replicas", wantMessage: "should be greater than or equal to 0",
		},
		"UnknownProvider": {
			reason: "providers are a closed set",
			base:   validInstance, patch: `spec: {provider: SKYNET}`,
			wantField: "spec.provider", wantMessage: `Unsupported value: "SKYNET"`,
		},
		"TLSWithoutSecret": {
			reason: "TLS needs a certificate",
			base:   validInstance, patch: `spec: {server: {tls: {enabled: true}}}`,
			wantField: "spec.server.tls", wantMessage: "secretName is required when tls is enabled",
		},
		"PortOutOfRange": {
			reason: "ports are 1-65535",
			base:   validInstance, patch: `spec: {server: {port: 70000}}`,
			wantField: "spec.server.port", wantMessage: "should be less than or equal to 65535",
		},
		"BurstBelowRate": {
			reason: "a burst smaller than the rate cannot be honoured",
			base:   validInstance, patch: `spec: {server: {security: {rateLimitRps: 20, rateLimitBurst: 5}}}`,
			wantField: "spec.server.security", wantMessage: "rateLimitBurst must be at least rateLimitRps",
		},
		"PluginsImageAndPVC": {
			reason: "plugins come from one place",
			base:   validInstance, patch: `spec: {plugins: {image: "reg/p:1.0", pvcName: plugins}}`,
			wantField: "spec.plugins", wantMessage: "set either image or pvcName, not both",
		},
		"UnknownWatchKind": {
			reason: "the watcher targets workloads only",
			base:   validInstance, patch: `spec: {watcher: {targets: [{name: api, namespace: prod, kind: Pod}]}}`,
			wantField: "spec.watcher.targets[0].kind", wantMessage: `Unsupported value: "Pod"`,
		},
		"BadWatchInterval": {
			reason: "the interval is a Go duration",
			base:   validInstance, patch: `spec: {watcher: {interval: soon}}`,
			wantField: "spec.watcher.interval", wantMessage: "should match",
		},
		"DedupTTLTooShort": {
			reason: "dedup TTLs are 5-1440 minutes",
			base:   validInstance, patch: `spec: {aiops: {dedupTTLMinutes: 1}}`,
			wantField: "spec.aiops.dedupTTLMinutes", wantMessage: "should be greater than or equal to 5",
		},
		"AnalysisThroughServerWithoutTLS": {
			reason: "the analyzer sends incident data and the server token to the server only over TLS",
			base:   validInstance, patch: `spec: {aiops: {analysisMode: server}, server: {tls: {secretName: chatcli-tls}}}`,
			wantField: "spec", wantMessage: "aiops.analysisMode server needs server.tls.enabled",
		},
		"UnknownAnalysisMode": {
			reason: "analysis modes are analyzer and server",
			base:   validInstance, patch: `spec: {aiops: {analysisMode: both}}`,
			wantField: "spec.aiops.analysisMode", wantMessage: `Unsupported value: "both"`,
		},
		"ZeroMaxTokens": {
			reason: "an answer of no tokens is no answer",
			base:   validInstance, patch: `spec: {maxTokens: 0}`,
			wantField: "spec.maxTokens", wantMessage: "should be greater than or equal to 1",
		},
		"TemperatureAboveTwo": {
			reason: "providers take temperatures in [0, 2]",
			base:   validInstance, patch: `spec: {temperature: 2.5}`,
			wantField: "spec.temperature", wantMessage: "should be less than or equal to 2",
		},
		"ProviderTimeoutTooLong": {
			reason: "a provider call is bounded by minutes, not hours",
			base:   validInstance, patch: `spec: {providerTimeout: 2h}`,
			wantField: "spec.providerTimeout", wantMessage: "providerTimeout must be between 1s and 10m",
		},
		"ProviderTimeoutNotADuration": {
			reason: "timeouts are Go durations",
			base:   validInstance, patch: `spec: {providerTimeout: soon}`,
			wantField: "spec.providerTimeout", wantMessage: "should match",
		},
		"CostNotADecimal": {
			reason: "the estimated cost is a decimal of six places",
			base:   validInsight, status: `status: {usage: {inputTokens: 1, outputTokens: 1, estimatedCostUSD: "1e-3"}}`,
			wantField: "status.usage.estimatedCostUSD", wantMessage: "should match",
		},
		"LatestImageTag": {
			reason: "images are pinned",
			base:   validInstance, patch: `spec: {image: {repository: ghcr.io/chatcli/server, tag: latest}}`,
			wantField: "spec.image.tag", wantMessage: "pin the image tag",
		},
		"UnknownField": {
			reason: "strict validation refuses fields the schema does not know",
			base:   validInstance, patch: `spec: {replicaz: 2}`,
			wantField: "spec.replicaz", wantMessage: "unknown field",
		},
		"ConfidenceAboveOne": {
			reason: "confidence is a probability",
			base:   validInsight, status: `status: {confidence: 1.5}`,
			wantField: "status.confidence", wantMessage: "should be less than or equal to 1",
		},
		"SuggestedUnknownAction": {
			reason: "suggested actions come from the catalogue",
			base:   validInsight, status: `status: {suggestedActions: [{action: rm -rf}]}`,
			wantField: "status.suggestedActions[0].action", wantMessage: `Unsupported value: "rm -rf"`,
		},
		"UnknownPostMortemState": {
			reason: "PostMortem states are Open, InReview and Closed",
			base:   validPostMortem, status: `status: {state: Archived}`,
			wantField: "status.state", wantMessage: `Unsupported value: "Archived"`,
		},
		"RunbookWithoutSteps": {
			reason: "a runbook does something",
			base:   validRunbook, patch: `spec: {steps: []}`,
			wantField: "spec.steps", wantMessage: "should have at least 1 items",
		},
		"RunbookUnknownSignal": {
			reason: "triggers use the catalogue's signal types",
			base:   validRunbook, patch: `spec: {trigger: {signalType: vibes, severity: high, resourceKind: Deployment}}`,
			wantField: "spec.trigger.signalType", wantMessage: `Unsupported value: "vibes"`,
		},
	})
}

// refusal is an object the API server must refuse: base with patch is
// created, then before (status) and status, or update (spec), are applied;
// the last step must fail.
type refusal struct {
	reason string
	base   string
	// patch is merged into base before the create, as YAML.
	patch string
	// before is a valid status, set through the status subresource before
	// status; it gives transition rules an old value.
	before string
	// status is set through the status subresource after a valid create.
	status string
	// update changes the spec of the created object.
	update      string
	wantField   string
	wantMessage string
}

// expectRefused runs each refusal in a namespace of its own test and checks
// that the error names the field and carries the message.
func expectRefused(t *testing.T, tests map[string]refusal) {
	t.Helper()
	ns := env.NewNamespace(t, "validation", nil)
	ctx := context.Background()
	statusOpts := &client.SubResourceUpdateOptions{UpdateOptions: client.UpdateOptions{FieldValidation: "Strict"}}
	i := 0
	for name, tc := range tests {
		i++
		t.Run(name, func(t *testing.T) {
			obj := buildObject(t, tc.base, tc.patch, ns, fmt.Sprintf("invalid-%d", i))
			err := env.Client.Create(ctx, obj, client.FieldValidation("Strict"))
			if err == nil && tc.before != "" {
				mergeYAML(t, obj.Object, tc.before)
				if err := env.Client.Status().Update(ctx, obj, statusOpts); err != nil {
					t.Fatalf("set valid status %s: %v", tc.before, err)
				}
			}
			switch {
			case tc.status != "":
				if err != nil {
					t.Fatalf("create valid base: %v", err)
				}
				mergeYAML(t, obj.Object, tc.status)
				err = env.Client.Status().Update(ctx, obj, statusOpts)
			case tc.update != "":
				if err != nil {
					t.Fatalf("create valid base: %v", err)
				}
				mergeYAML(t, obj.Object, tc.update)
				err = env.Client.Update(ctx, obj, client.FieldValidation("Strict"))
			}
			if err == nil {
				t.Fatalf("%s: the API server accepted the object", tc.reason)
			}
			if !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) {
				t.Errorf("%s: error %q is not a validation error", tc.reason, err)
			}
			// The field path is followed by ": " in every message the API
			// server writes, so "spec" cannot match "spec.replicas".
			wantField := tc.wantField + ": "
			if tc.wantMessage == "unknown field" {
				wantField = `unknown field "` + tc.wantField + `"`
			}
			for _, want := range []string{wantField, tc.wantMessage} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%s: error %q does not contain %q", tc.reason, err, want)
				}
			}
		})
	}
}

// TestLegitimateObjectsAreAccepted guards against rules that are too strict
// for what the services and people write.
func TestLegitimateObjectsAreAccepted(t *testing.T) {
	expectAccepted(t, map[string]acceptance{
		"TLSWithoutEnabled":     {reason: "a Go writer omits enabled: false", base: validInstance, patch: `spec: {server: {tls: {}}}`},
		"TLSSecretBeforeEnable": {reason: "the Secret may be named before TLS is turned on", base: validInstance, patch: `spec: {server: {tls: {secretName: chatcli-tls}}}`},
		"EscalateAfterMaxLowered": {
			reason: "a lowered maximum must not lock the correlator out of escalating",
			base:   validIssue, status: `status: {state: Remediating, remediationAttempts: 3, maxRemediationAttempts: 3}`,
			then: `status: {state: Escalated, remediationAttempts: 3, maxRemediationAttempts: 2}`,
		},
		"ZeroRiskAndConfidence": {reason: "zero is a value, not an absence", base: validIssue, patch: `spec: {riskScore: 0}`},
		"AnalysisThroughServerOverTLS": {
			reason: "an Instance may send its incidents' analyses to its own ChatCLI server",
			base:   validInstance, patch: `spec: {maxTokens: 2048, temperature: 0.2, providerTimeout: 90s, aiops: {analysisMode: server}, server: {tls: {enabled: true, secretName: chatcli-tls}}}`,
		},
		"InsightUsageAndServer": {
			reason: "the analyzer records who answered and what it cost",
			base:   validInsight, status: `status: {server: chatcli-prod, usage: {inputTokens: 1200, outputTokens: 80, estimatedCostUSD: "0.004800"}}`,
		},
	})
}

// acceptance is an object the API server must accept: base with patch is
// created, then update (spec), status and then (status) are applied, and
// each must pass.
type acceptance struct {
	reason string
	base   string
	patch  string
	update string
	status string
	then   string
}

func expectAccepted(t *testing.T, tests map[string]acceptance) {
	t.Helper()
	ns := env.NewNamespace(t, "validation", nil)
	ctx := context.Background()
	i := 0
	for name, tc := range tests {
		i++
		t.Run(name, func(t *testing.T) {
			obj := buildObject(t, tc.base, tc.patch, ns, fmt.Sprintf("legit-%d", i))
			if err := env.Client.Create(ctx, obj, client.FieldValidation("Strict")); err != nil {
				t.Fatalf("%s: create refused: %v", tc.reason, err)
			}
			if tc.update != "" {
				mergeYAML(t, obj.Object, tc.update)
				if err := env.Client.Update(ctx, obj, client.FieldValidation("Strict")); err != nil {
					t.Fatalf("%s: update %s refused: %v", tc.reason, tc.update, err)
				}
			}
			for _, status := range []string{tc.status, tc.then} {
				if status == "" {
					continue
				}
				mergeYAML(t, obj.Object, status)
				if err := env.Client.Status().Update(ctx, obj, &client.SubResourceUpdateOptions{UpdateOptions: client.UpdateOptions{FieldValidation: "Strict"}}); err != nil {
					t.Fatalf("%s: status %s refused: %v", tc.reason, status, err)
				}
			}
		})
	}
}

// TestDefaults proves the seed's defaults are applied by the API server.
func TestDefaults(t *testing.T) {
	ns := env.NewNamespace(t, "validation", nil)
	ctx := context.Background()
	tests := map[string]struct {
		base   string
		status string
		want   map[string]any
	}{
		"Instance": {base: validInstance + "\n  watcher: {enabled: true, targets: [{name: api, namespace: prod}]}\n  server: {token: {name: tok}}", want: map[string]any{
			"spec.replicas": int64(1), "spec.server.port": int64(50051), "spec.server.token.key": "token",
			"spec.watcher.interval": "30s", "spec.watcher.targets.0.kind": "Deployment",
		}},
		"Issue":           {base: validIssue, status: `status: {state: Detected}`, want: map[string]any{"status.maxRemediationAttempts": int64(3)}},
		"RemediationPlan": {base: validPlan, want: map[string]any{"spec.agenticMaxSteps": int64(10)}},
		"Runbook":         {base: validRunbook, want: map[string]any{"spec.maxAttempts": int64(3)}},
	}
	i := 0
	for name, tc := range tests {
		i++
		t.Run(name, func(t *testing.T) {
			obj := buildObject(t, tc.base, "", ns, fmt.Sprintf("defaults-%d", i))
			if err := env.Client.Create(ctx, obj, client.FieldValidation("Strict")); err != nil {
				t.Fatalf("create: %v", err)
			}
			if tc.status != "" {
				mergeYAML(t, obj.Object, tc.status)
				if err := env.Client.Status().Update(ctx, obj); err != nil {
					t.Fatalf("update status: %v", err)
				}
			}
			for path, want := range tc.want {
				got, found := lookup(obj.Object, path)
				if !found || got != want {
					t.Errorf("%s = %v (found %v), want %v", path, got, found, want)
				}
			}
		})
	}
}

// lookup follows a dotted path through maps and, for numeric segments,
// lists.
func lookup(obj any, path string) (any, bool) {
	for _, seg := range strings.Split(path, ".") {
		switch v := obj.(type) {
		case map[string]any:
			next, ok := v[seg]
			if !ok {
				return nil, false
			}
			obj = next
		case []any:
			idx, err := strconv.Atoi(seg)
			if err != nil || idx >= len(v) {
				return nil, false
			}
			obj = v[idx]
		default:
			return nil, false
		}
	}
	return obj, true
}

func buildObject(t *testing.T, base, patch, namespace, name string) *unstructured.Unstructured {
	t.Helper()
	obj := map[string]any{}
	if err := yaml.Unmarshal([]byte(base), &obj); err != nil {
		t.Fatalf("parse base: %v", err)
	}
	if patch != "" {
		mergeYAML(t, obj, patch)
	}
	u := &unstructured.Unstructured{Object: obj}
	u.SetAPIVersion("platform.chatcli.io/v1alpha1")
	u.SetNamespace(namespace)
	u.SetName(name)
	return u
}

// mergeYAML merges patch into obj, replacing lists and scalars and merging
// maps.
func mergeYAML(t *testing.T, obj map[string]any, patch string) {
	t.Helper()
	p := map[string]any{}
	if err := yaml.Unmarshal([]byte(patch), &p); err != nil {
		t.Fatalf("parse patch: %v", err)
	}
	mergeMaps(obj, p)
}

func mergeMaps(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergeMaps(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}
