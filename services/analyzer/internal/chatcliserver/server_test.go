package chatcliserver

import (
	"context"
	"math"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/llm"
	chatcliv1 "github.com/chatcli/aiops/proto/chatcli/v1"
)

// TestAServersAnswerTakesTheStrictParse: what a server answers is parsed
// like a model's answer, so out-of-schema answers are refused.
func TestAServersAnswerTakesTheStrictParse(t *testing.T) {
	tests := map[string]struct {
		out     *chatcliv1.AnalyzeIssueResponse
		wantErr bool
	}{
		"Valid":                  {out: &chatcliv1.AnalyzeIssueResponse{Analysis: "OOM", Confidence: 0.87, SuggestedActions: []*chatcliv1.SuggestedAction{{Name: "r", Action: "AdjustResources", Params: map[string]string{"container": "app"}}}}},
		"ZeroConfidenceIsAValue": {out: &chatcliv1.AnalyzeIssueResponse{Analysis: "unsure"}},
		"EmptyAnalysis":          {out: &chatcliv1.AnalyzeIssueResponse{Confidence: 0.5}, wantErr: true},
		"ConfidenceAboveOne":     {out: &chatcliv1.AnalyzeIssueResponse{Analysis: "x", Confidence: 1.5}, wantErr: true},
		"NaNConfidence":          {out: &chatcliv1.AnalyzeIssueResponse{Analysis: "x", Confidence: float32(math.NaN())}, wantErr: true},
		"TooManyActions":         {out: &chatcliv1.AnalyzeIssueResponse{Analysis: "x", Confidence: 0.5, SuggestedActions: make([]*chatcliv1.SuggestedAction, llm.MaxSuggestedActions+1)}, wantErr: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			a, err := llm.ParseAnalysis(answerJSON(tt.out))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parse: %v, want error %v", err, tt.wantErr)
			}
			if err == nil && float32(*a.Confidence) != tt.out.GetConfidence() {
				t.Errorf("confidence %v, want %v", *a.Confidence, tt.out.GetConfidence())
			}
		})
	}
}

// TestCallErrorsAreClassifiedLikeAProvidersHTTPErrors, so that retries and
// the breaker treat a server as they treat a provider.
func TestCallErrorsAreClassifiedLikeAProvidersHTTPErrors(t *testing.T) {
	tests := map[string]struct {
		code      codes.Code
		want      llm.ErrorKind
		retryable bool
	}{
		"Down":        {code: codes.Unavailable, want: llm.KindNetwork, retryable: true},
		"RateLimited": {code: codes.ResourceExhausted, want: llm.KindRateLimited, retryable: true},
		"Slow":        {code: codes.DeadlineExceeded, want: llm.KindTimeout, retryable: true},
		"WrongToken":  {code: codes.Unauthenticated, want: llm.KindAuth},
		"Refused":     {code: codes.InvalidArgument, want: llm.KindBadRequest},
		"Broken":      {code: codes.Internal, want: llm.KindServer, retryable: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			ce := callError(context.Background(), status.Error(tt.code, "the server's own words"))
			if ce.Kind != tt.want || ce.Retryable() != tt.retryable {
				t.Errorf("kind %s retryable %v, want %s %v", ce.Kind, ce.Retryable(), tt.want, tt.retryable)
			}
			if ce.Error() == "" || strings.Contains(ce.Error(), "the server's own words") {
				t.Errorf("error %q keeps the server's text", ce.Error())
			}
		})
	}
}

// TestAnalysisInstanceIsTheCorrelatorsPick: the first Ready Instance by
// name that names a provider.
func TestAnalysisInstanceIsTheCorrelatorsPick(t *testing.T) {
	inst := func(name string, ready bool, provider platformv1alpha1.Provider) platformv1alpha1.Instance {
		i := platformv1alpha1.Instance{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: platformv1alpha1.InstanceSpec{Provider: provider}}
		status := metav1.ConditionFalse
		if ready {
			status = metav1.ConditionTrue
		}
		i.Status.Conditions = []metav1.Condition{{Type: platformv1alpha1.InstanceReadyCondition, Status: status}}
		return i
	}
	tests := map[string]struct {
		items []platformv1alpha1.Instance
		want  string
	}{
		"None":                {},
		"FirstByName":         {items: []platformv1alpha1.Instance{inst("b", true, "CLAUDEAI"), inst("a", true, "OPENAI")}, want: "a"},
		"NotReadyIsSkipped":   {items: []platformv1alpha1.Instance{inst("a", false, "OPENAI"), inst("b", true, "CLAUDEAI")}, want: "b"},
		"NoProviderIsSkipped": {items: []platformv1alpha1.Instance{inst("a", true, ""), inst("b", true, "CLAUDEAI")}, want: "b"},
		"NoneReady":           {items: []platformv1alpha1.Instance{inst("a", false, "OPENAI")}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := AnalysisInstance(tt.items)
			if (got == nil && tt.want != "") || (got != nil && got.Name != tt.want) {
				t.Errorf("AnalysisInstance = %v, want %q", got, tt.want)
			}
		})
	}
}
