package issue

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/services/correlator/internal/correlate"
)

// eventRecurrence is the timeline entry that says which fix did not hold;
// the first analysis of a recurrence is given its detail.
const eventRecurrence = "recurrence"

// resourceHistory is what came before an Issue on the same resource.
type resourceHistory struct {
	// previous is the Issue this one repeats: Resolved no longer than the
	// cooldown before this one opened. Nil when this is no recurrence.
	previous *platformv1alpha1.Issue
	// recurrenceDetail says what the previous fix was and how long it held.
	recurrenceDetail string
	// recent are the earlier Issues opened within the flapping window.
	recent []platformv1alpha1.Issue
}

func (h resourceHistory) recentNames() []string {
	names := make([]string, 0, len(h.recent))
	for _, i := range h.recent {
		names = append(names, i.Name)
	}
	return names
}

// history reads the earlier Issues of the Issue's resource from the API
// server (the cache may not hold an Issue resolved a moment ago).
func (r *Reconciler) history(ctx context.Context, issue *platformv1alpha1.Issue) (resourceHistory, error) {
	key := issue.Labels[platformv1alpha1.LabelResourceKey]
	if key == "" {
		key = correlate.ResourceKey(issue.Spec.Resource) // an Issue a person made
	}
	list := &platformv1alpha1.IssueList{}
	if err := r.Reader.List(ctx, list, client.InNamespace(issue.Namespace), client.MatchingLabels{platformv1alpha1.LabelResourceKey: key}); err != nil {
		return resourceHistory{}, fmt.Errorf("list the earlier Issues of %s: %w", resourceString(issue), err)
	}
	opened := issue.CreationTimestamp.Time
	var h resourceHistory
	for i := range list.Items {
		earlier := &list.Items[i]
		if earlier.UID == issue.UID || !openedBefore(earlier, issue) {
			continue
		}
		if opened.Sub(earlier.CreationTimestamp.Time) <= r.FlappingWindow {
			h.recent = append(h.recent, *earlier)
		}
		if earlier.Status.State != platformv1alpha1.IssueResolved || earlier.Status.ResolvedAt == nil {
			continue
		}
		// Both times have a resolution of one second.
		held := opened.Sub(earlier.Status.ResolvedAt.Time)
		if held < -time.Second || held > r.RecurrenceCooldown {
			continue
		}
		if h.previous == nil || openedBefore(h.previous, earlier) {
			h.previous = earlier
		}
	}
	slices.SortFunc(h.recent, func(a, b platformv1alpha1.Issue) int { return a.CreationTimestamp.Compare(b.CreationTimestamp.Time) })
	if h.previous != nil {
		h.recurrenceDetail = r.describeRecurrence(ctx, h.previous, opened)
	}
	return h, nil
}

// describeRecurrence says which fix did not hold, and for how long it did:
// "The fix of Issue x (plan x-plan-1: AdjustResources{...}) held for 40s".
func (r *Reconciler) describeRecurrence(ctx context.Context, previous *platformv1alpha1.Issue, opened time.Time) string {
	held := opened.Sub(previous.Status.ResolvedAt.Time).Round(time.Second)
	fix := previous.Status.Resolution
	if previous.Status.PlanRef != nil {
		plan := &platformv1alpha1.RemediationPlan{}
		if err := r.Reader.Get(ctx, client.ObjectKey{Namespace: previous.Namespace, Name: previous.Status.PlanRef.Name}, plan); err == nil {
			fix = "plan " + plan.Name
			for i, a := range plan.Status.ActionResults {
				sep := ", "
				if i == 0 {
					sep = ": "
				}
				fix += sep + string(a.Type) + formatParams(a.Params)
			}
			if plan.Spec.RunbookRef != nil {
				fix += " (runbook " + plan.Spec.RunbookRef.Name + ")"
			}
		}
	}
	return fmt.Sprintf("The fix of Issue %s did not hold: %s held for %s before the fault came back. Try a different strategy.", previous.Name, fix, held)
}

// openedBefore orders two Issues of one resource by their incident
// generation, which the correlator gives each in turn, else (an Issue a
// person made) by creation time, which has a resolution of one second.
func openedBefore(a, b *platformv1alpha1.Issue) bool {
	ga, errA := strconv.Atoi(a.Labels[platformv1alpha1.LabelIncidentGeneration])
	gb, errB := strconv.Atoi(b.Labels[platformv1alpha1.LabelIncidentGeneration])
	if errA == nil && errB == nil {
		return ga < gb
	}
	return a.CreationTimestamp.Before(&b.CreationTimestamp)
}
