package chatcliv1_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	chatcliv1 "github.com/chatcli/aiops/proto/chatcli/v1"
)

// wireField is what the upstream ChatCLI server expects of one field: its
// number, its name and the wire type it is encoded with.
type wireField struct {
	Name string
	Type protowire.Type
}

const (
	bytesT  = protowire.BytesType   // string, message, map entry, repeated string
	varintT = protowire.VarintType  // int32, int64, bool
	fixed32 = protowire.Fixed32Type // float
)

// analyzeFields are the fields 1 to 11 that AnalyzeIssueRequest and
// AgenticStepRequest share.
func analyzeFields() map[protowire.Number]wireField {
	return map[protowire.Number]wireField{
		1:  {"issue_name", bytesT},
		2:  {"namespace", bytesT},
		3:  {"resource_kind", bytesT},
		4:  {"resource_name", bytesT},
		5:  {"signal_type", bytesT},
		6:  {"severity", bytesT},
		7:  {"description", bytesT},
		8:  {"risk_score", varintT},
		9:  {"provider", bytesT},
		10: {"model", bytesT},
		11: {"kubernetes_context", bytesT},
	}
}

func with(base map[protowire.Number]wireField, extra map[protowire.Number]wireField) map[protowire.Number]wireField {
	for n, f := range extra {
		base[n] = f
	}
	return base
}

func suggestedAction() *chatcliv1.SuggestedAction {
	return &chatcliv1.SuggestedAction{
		Name:        "restart",
		Action:      "RestartDeployment",
		Description: "Restart to clear the leak",
		Params:      map[string]string{"reason": "oom"},
	}
}

// TestWireCompatibility marshals every chatcli.v1 message with all fields set
// and decodes the bytes by field number, so that a renumbered or retyped
// field breaks the build before it breaks an upstream ChatCLI server.
func TestWireCompatibility(t *testing.T) {
	cases := map[string]struct {
		reason string
		msg    proto.Message
		want   map[protowire.Number]wireField
	}{
		"GetAlertsRequest": {
			reason: "both filters are strings",
			msg:    &chatcliv1.GetAlertsRequest{Namespace: "prod", Deployment: "web"},
			want: map[protowire.Number]wireField{
				1: {"namespace", bytesT},
				2: {"deployment", bytesT},
			},
		},
		"GetAlertsResponse": {
			reason: "alerts is a repeated message",
			msg: &chatcliv1.GetAlertsResponse{Alerts: []*chatcliv1.WatcherAlert{
				{Type: "oom_kill"}, {Type: "pod_restart"},
			}},
			want: map[protowire.Number]wireField{
				1: {"alerts", bytesT},
			},
		},
		"WatcherAlert": {
			reason: "timestamp_unix is an int64, the rest are strings",
			msg: &chatcliv1.WatcherAlert{
				Type:          "oom_kill",
				Severity:      "critical",
				Message:       "Container was OOM-killed",
				Object:        "pod/web-5d9c7-abcde",
				Namespace:     "prod",
				Deployment:    "web",
				TimestampUnix: 1_760_000_000,
			},
			want: map[protowire.Number]wireField{
				1: {"type", bytesT},
				2: {"severity", bytesT},
				3: {"message", bytesT},
				4: {"object", bytesT},
				5: {"namespace", bytesT},
				6: {"deployment", bytesT},
				7: {"timestamp_unix", varintT},
			},
		},
		"AnalyzeIssueRequest": {
			reason: "risk_score is an int32, the rest are strings",
			msg: &chatcliv1.AnalyzeIssueRequest{
				IssueName:              "web-oom",
				Namespace:              "prod",
				ResourceKind:           "Deployment",
				ResourceName:           "web",
				SignalType:             "oom_kill",
				Severity:               "critical",
				Description:            "Container was OOM-killed",
				RiskScore:              80,
				Provider:               "OPENAI",
				Model:                  "gpt-4o",
				KubernetesContext:      "pods: 3",
				PreviousFailureContext: "restart did not help",
			},
			want: with(analyzeFields(), map[protowire.Number]wireField{
				12: {"previous_failure_context", bytesT},
			}),
		},
		"AnalyzeIssueResponse": {
			reason: "confidence is a float, recommendations and suggested_actions are repeated",
			msg: &chatcliv1.AnalyzeIssueResponse{
				Analysis:         "Memory limit too low",
				Confidence:       0.9,
				Recommendations:  []string{"raise the limit", "profile the heap"},
				Model:            "gpt-4o",
				Provider:         "OPENAI",
				SuggestedActions: []*chatcliv1.SuggestedAction{suggestedAction(), suggestedAction()},
			},
			want: map[protowire.Number]wireField{
				1: {"analysis", bytesT},
				2: {"confidence", fixed32},
				3: {"recommendations", bytesT},
				4: {"model", bytesT},
				5: {"provider", bytesT},
				6: {"suggested_actions", bytesT},
			},
		},
		"SuggestedAction": {
			reason: "params is a map<string,string>",
			msg:    suggestedAction(),
			want: map[protowire.Number]wireField{
				1: {"name", bytesT},
				2: {"action", bytesT},
				3: {"description", bytesT},
				4: {"params", bytesT},
			},
		},
		"AgenticHistoryEntry": {
			reason: "step_number is an int32, params is a map<string,string>",
			msg: &chatcliv1.AgenticHistoryEntry{
				StepNumber:  2,
				AiMessage:   "Scaling up",
				Action:      "ScaleDeployment",
				Params:      map[string]string{"replicas": "4", "reason": "load"},
				Observation: "4/4 ready",
			},
			want: map[protowire.Number]wireField{
				1: {"step_number", varintT},
				2: {"ai_message", bytesT},
				3: {"action", bytesT},
				4: {"params", bytesT},
				5: {"observation", bytesT},
			},
		},
		"AgenticStepRequest": {
			reason: "fields 1 to 11 as in AnalyzeIssueRequest, then the loop state and the insight",
			msg: &chatcliv1.AgenticStepRequest{
				IssueName:         "web-oom",
				Namespace:         "prod",
				ResourceKind:      "Deployment",
				ResourceName:      "web",
				SignalType:        "oom_kill",
				Severity:          "critical",
				Description:       "Container was OOM-killed",
				RiskScore:         80,
				Provider:          "OPENAI",
				Model:             "gpt-4o",
				KubernetesContext: "pods: 3",
				History: []*chatcliv1.AgenticHistoryEntry{
					{StepNumber: 1, Action: "RestartDeployment"},
				},
				MaxSteps:                10,
				CurrentStep:             2,
				InsightAnalysis:         "Memory limit too low",
				InsightConfidence:       0.8,
				InsightRecommendations:  []string{"raise the limit"},
				InsightSuggestedActions: []*chatcliv1.SuggestedAction{suggestedAction()},
			},
			want: with(analyzeFields(), map[protowire.Number]wireField{
				12: {"history", bytesT},
				13: {"max_steps", varintT},
				14: {"current_step", varintT},
				15: {"insight_analysis", bytesT},
				16: {"insight_confidence", fixed32},
				17: {"insight_recommendations", bytesT},
				18: {"insight_suggested_actions", bytesT},
			}),
		},
		"AgenticStepResponse": {
			reason: "resolved and diverges_from_insight are bools, next_action is a message",
			msg: &chatcliv1.AgenticStepResponse{
				Reasoning:           "Pods are healthy",
				Resolved:            true,
				NextAction:          suggestedAction(),
				PostmortemSummary:   "OOM fixed by raising the limit",
				RootCause:           "Memory limit too low",
				Impact:              "5 minutes of errors",
				LessonsLearned:      []string{"size limits from profiles"},
				PreventionActions:   []string{"add a memory alert"},
				DivergesFromInsight: true,
				DivergenceReason:    "The leak was in a sidecar",
			},
			want: map[protowire.Number]wireField{
				1:  {"reasoning", bytesT},
				2:  {"resolved", varintT},
				3:  {"next_action", bytesT},
				4:  {"postmortem_summary", bytesT},
				5:  {"root_cause", bytesT},
				6:  {"impact", bytesT},
				7:  {"lessons_learned", bytesT},
				8:  {"prevention_actions", bytesT},
				9:  {"diverges_from_insight", varintT},
				10: {"divergence_reason", bytesT},
			},
		},
	}

	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := proto.MarshalOptions{Deterministic: true}.Marshal(tc.msg)
			if err != nil {
				t.Fatalf("%s: Marshal: %v", tc.reason, err)
			}

			got, err := decodeFields(b, tc.msg.ProtoReflect().Descriptor())
			if err != nil {
				t.Fatalf("%s: decode: %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s: fields on the wire differ from upstream (-want +got):\n%s", tc.reason, diff)
			}

			// The message must declare no field that upstream does not
			// know, even one left unset above.
			if n, want := tc.msg.ProtoReflect().Descriptor().Fields().Len(), len(tc.want); n != want {
				t.Errorf("%s: message declares %d fields, upstream has %d", tc.reason, n, want)
			}
		})
	}
}

// decodeFields walks the top level of an encoded message and returns, for
// each field number seen, its name in the descriptor and its wire type. A
// field seen twice with different wire types is an error.
func decodeFields(b []byte, md protoreflect.MessageDescriptor) (map[protowire.Number]wireField, error) {
	got := map[protowire.Number]wireField{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]

		name := "<undeclared>"
		if fd := md.Fields().ByNumber(num); fd != nil {
			name = string(fd.Name())
		}
		f := wireField{Name: name, Type: typ}
		if prev, ok := got[num]; ok && prev != f {
			return nil, fmt.Errorf("field %d is encoded as wire types %d and %d", num, prev.Type, typ)
		}
		got[num] = f
	}
	return got, nil
}
