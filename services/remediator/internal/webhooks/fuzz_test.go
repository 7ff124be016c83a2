package webhooks

import (
	"context"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/actions"
	"github.com/chatcli/aiops/libs/k8sctx"
)

// FuzzDecidePlanChange: the webhook refuses exactly what the catalogue's
// parser refuses, and its message names the action and, for a param
// error, the param.
func FuzzDecidePlanChange(f *testing.F) {
	f.Add("ScaleDeployment", "replicas", "3")
	f.Add("ScaleDeployment", "replicas", "-1")
	f.Add("AdjustResources", "memory_limit", "1Gi")
	f.Add("RollbackDeployment", "toRevision", "healthy")
	f.Add("Frobnicate", "x", "y")
	f.Add("Custom", "", "")
	f.Fuzz(func(t *testing.T, typ, name, value string) {
		params := platformv1alpha1.ActionParams{}
		if name != "" {
			params[name] = value
		}
		a := platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionType(typ), Params: params}
		v := DecidePlanChange(nil, planIn("", nil, a))
		err := actions.Parse(a.Type, a.Params)
		if v.Allowed != (err == nil) {
			t.Fatalf("allowed %v, but the catalogue says %v", v.Allowed, err)
		}
		if !v.Allowed && !strings.Contains(v.Reason, "spec.actions[0] ("+typ+")") {
			t.Fatalf("message %q does not name the action", v.Reason)
		}
	})
}

// FuzzRunbookHandler: whatever bytes the API server sends, the handler
// answers without panicking, and never allows a Runbook it could not read.
func FuzzRunbookHandler(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"platform.chatcli.io/v1alpha1","kind":"Runbook","metadata":{"name":"r"},"spec":{"steps":[{"name":"s","action":"ScaleDeployment","params":{"replicas":"2"}}]}}`), []byte(nil), true)
	f.Add([]byte(`{"spec":{"steps":[{"action":"ScaleDeployment","params":{"replicas":"x"}}]}}`), []byte(`{"spec":{}}`), false)
	f.Add([]byte(`{`), []byte(`null`), false)
	scheme := k8sctx.NewScheme()
	h := &runbookHandler{decoder: admission.NewDecoder(scheme)}
	f.Fuzz(func(t *testing.T, object, old []byte, create bool) {
		req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{Operation: admissionv1.Update,
			Object: runtime.RawExtension{Raw: object}, OldObject: runtime.RawExtension{Raw: old}}}
		if create {
			req.Operation = admissionv1.Create
		}
		resp := h.Handle(context.Background(), req)
		rb := &platformv1alpha1.Runbook{}
		if resp.Allowed && admission.NewDecoder(scheme).DecodeRaw(req.Object, rb) != nil {
			t.Fatalf("allowed a Runbook that does not decode: %q", object)
		}
	})
}
