package builtin

import (
	"fmt"
	"strings"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// A pending claim waits for storage that no action of the catalogue
// provides: the rule gives the reason from the claim and its events, and
// no action. Confidence 0.6.
var _ = register(30, Rule{
	Name:       "explain-pending-pvc",
	Signals:    []platformv1alpha1.SignalType{platformv1alpha1.SignalPVCPending},
	Confidence: 0.6,
	Decide: func(in Input) (Finding, bool) {
		var why []string
		for _, e := range in.Context.Events {
			if e.Type == "Warning" {
				why = append(why, e.Reason+": "+e.Message)
			}
		}
		class := ""
		if p := in.Context.PVC; p != nil {
			class = p.StorageClass
		}
		reason := "no event says why"
		if len(why) > 0 {
			reason = strings.Join(why[max(0, len(why)-2):], "; ")
		}
		rec := "Check that the StorageClass exists and its provisioner runs, and that capacity is left."
		if class == "" {
			rec = "The claim names no StorageClass and none is the default: set one."
		}
		return Finding{
			Analysis:        fmt.Sprintf("PersistentVolumeClaim %s/%s is Pending (storage class %q): %s.", in.Resource.Namespace, in.Resource.Name, class, reason),
			Recommendations: []string{rec},
		}, true
	},
})
