package remediationplan

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/actions"
	"github.com/chatcli/aiops/libs/scrub"
	analyzerv1 "github.com/chatcli/aiops/proto/chatcli/platform/analyzer/v1"
	commonv1 "github.com/chatcli/aiops/proto/chatcli/platform/common/v1"
	chatcliv1 "github.com/chatcli/aiops/proto/chatcli/v1"
)

// AnnotationAgenticResolution carries the AI's account of a resolved
// agentic plan from the pass that asked (which writes spec) to the pass
// that records it in status.agenticResolution.
const AnnotationAgenticResolution = "platform.chatcli.io/agentic-resolution"

// Observations recorded on agentic steps.
const (
	observationResolved = "RESOLVED"
	observationRefused  = "REFUSED"
	// observationNoAction is a step that asked for nothing: the AI waits
	// (a rollout in progress), which is no refusal of a proposal.
	observationNoAction = observationRefused + ": the step proposed no action and did not resolve the issue"
)

// MaxRefusedInARow is how many of the AI's proposals in a row may be
// refused (by the policy, the catalogue, or for diverging from the
// analysis without a reason) before the loop stops and rolls back: a
// model that keeps asking for what is forbidden, such as one obeying a
// prompt injection, does not get the rest of its steps.
const MaxRefusedInARow = 3

// agentic runs the observe-decide-act loop, one small step per pass:
//
//  1. ask the analyzer for step n and record its decision as
//     spec.agenticHistory[n-1] (nothing acts on a step before it is
//     recorded, and a recorded step is never asked again);
//  2. check the action against the policy and snapshot the target
//     (status.pendingAction);
//  3. run it (status.actionResults, index n-1);
//  4. write what happened as the step's observation.
//
// It stops when the AI declares the issue resolved (then verifies), after
// MaxRefusedInARow refused proposals, at the step budget, or after
// AgenticTimeout; all but the first roll back.
func (r *Reconciler) agentic(ctx context.Context, p *platformv1alpha1.RemediationPlan) (ctrl.Result, error) {
	l, res, ok := r.lock(ctx, p)
	if !ok {
		return res, nil
	}
	if p.Status.StartedAt == nil {
		t := r.now()
		p.Status.StartedAt = &t
		return next, nil
	}
	if p.Status.PendingAction != nil {
		return r.apply(ctx, p, l)
	}
	hist := p.Spec.AgenticHistory
	p.Status.AgenticStepCount = int32(len(hist))
	if n := len(hist); n > 0 {
		last := hist[n-1]
		idx := int32(n - 1)
		switch {
		case last.Action == nil && last.Observation == observationResolved:
			return r.agenticResolved(ctx, p)
		case last.Action != nil && last.Observation == "":
			if res := resultAt(p, idx); res != nil {
				return r.observe(ctx, p, idx, *res)
			}
			return r.prepare(ctx, p, l, idx, *last.Action, historyActions(hist))
		}
	}
	if n := refusedInARow(hist); n >= MaxRefusedInARow {
		return r.agenticGiveUp(ctx, p, fmt.Sprintf("the agentic loop stopped after %d proposals in a row were refused; the last: %s",
			n, truncate(hist[len(hist)-1].Observation, 1000)))
	}
	maxSteps := p.Spec.AgenticMaxSteps
	if maxSteps == 0 {
		maxSteps = 10
	}
	if int32(len(hist)) >= maxSteps {
		return r.agenticGiveUp(ctx, p, fmt.Sprintf("the agentic loop spent its %d steps without resolving the issue", maxSteps))
	}
	if r.Now().Sub(p.Status.StartedAt.Time) > AgenticTimeout {
		return r.agenticGiveUp(ctx, p, "the agentic loop ran out of its 10 minutes")
	}
	if wait := r.observeFirst(hist); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	return r.ask(ctx, p, int32(len(hist))+1, maxSteps)
}

// observeFirst is how long to wait before the next step. A step that
// changed nothing (the AI proposed no action, or one that was refused)
// says the target must be looked at again later, such as a rollout an
// earlier step started: asked at once, the next step would see the same
// target, and a loop could spend its whole budget in seconds while the
// fix it applied was still rolling out, then roll that fix back.
func (r *Reconciler) observeFirst(hist []platformv1alpha1.AgenticStep) time.Duration {
	if len(hist) == 0 {
		return 0
	}
	last := hist[len(hist)-1]
	changedNothing := last.Action == nil || strings.HasPrefix(last.Observation, observationRefused)
	if !changedNothing || last.Timestamp == nil {
		return 0
	}
	return last.Timestamp.Add(r.AgenticObserveInterval).Sub(r.Now())
}

// refusedInARow counts the steps at the end of hist whose proposal was
// refused; a step that proposed nothing ends the count.
func refusedInARow(hist []platformv1alpha1.AgenticStep) int {
	n := 0
	for i := len(hist) - 1; i >= 0; i-- {
		obs := hist[i].Observation
		if !strings.HasPrefix(obs, observationRefused) || obs == observationNoAction {
			break
		}
		n++
	}
	return n
}

func resultAt(p *platformv1alpha1.RemediationPlan, idx int32) *platformv1alpha1.ActionResult {
	for i := range p.Status.ActionResults {
		if r := &p.Status.ActionResults[i]; r.Index != nil && *r.Index == idx {
			return r
		}
	}
	return nil
}

func historyActions(hist []platformv1alpha1.AgenticStep) []platformv1alpha1.RemediationAction {
	var out []platformv1alpha1.RemediationAction
	for _, s := range hist {
		if s.Action != nil {
			out = append(out, *s.Action)
		}
	}
	return out
}

// updateSpec writes a spec or metadata change made by this pass. The pass
// then changes no status, so Base writes nothing after it.
func (r *Reconciler) updateSpec(ctx context.Context, p *platformv1alpha1.RemediationPlan, change func(*platformv1alpha1.RemediationPlan)) (ctrl.Result, error) {
	fresh := p.DeepCopy()
	change(fresh)
	if err := r.Client.Update(ctx, fresh); err != nil {
		return ctrl.Result{}, fmt.Errorf("record the agentic step: %w", err)
	}
	return next, nil
}

// observe writes the outcome of step idx+1 as its observation.
func (r *Reconciler) observe(ctx context.Context, p *platformv1alpha1.RemediationPlan, idx int32, res platformv1alpha1.ActionResult) (ctrl.Result, error) {
	word := "SUCCESS"
	switch res.Result {
	case platformv1alpha1.ActionFailed:
		word = "FAILED"
	case platformv1alpha1.ActionSkipped:
		word = observationRefused
	}
	obs := truncate(fmt.Sprintf("%s: %s", word, res.Message), 8000)
	return r.updateSpec(ctx, p, func(fresh *platformv1alpha1.RemediationPlan) {
		fresh.Spec.AgenticHistory[idx].Observation = obs
	})
}

// ask gets the decision for step n and records it before anything acts on it.
func (r *Reconciler) ask(ctx context.Context, p *platformv1alpha1.RemediationPlan, n, maxSteps int32) (ctrl.Result, error) {
	if r.Analyzer == nil {
		return r.agenticGiveUp(ctx, p, "no analyzer is configured for agentic plans")
	}
	issue := &platformv1alpha1.Issue{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: p.Spec.IssueRef.Name}, issue); err != nil {
		return ctrl.Result{}, fmt.Errorf("get the Issue: %w", err)
	}
	req := &chatcliv1.AgenticStepRequest{
		IssueName: issue.Name, Namespace: issue.Namespace, ResourceKind: issue.Spec.Resource.Kind, ResourceName: issue.Spec.Resource.Name,
		SignalType: string(issue.Spec.SignalType), Severity: string(issue.Spec.Severity), Description: issue.Spec.Description,
		RiskScore: issue.Spec.RiskScore, MaxSteps: maxSteps, CurrentStep: n,
	}
	if summary, err := r.targetContext(ctx, *p.Status.ResolvedTarget, p.UID); err == nil {
		req.KubernetesContext = summary
	} else {
		req.KubernetesContext = "the target could not be read: " + err.Error()
	}
	for _, s := range p.Spec.AgenticHistory {
		e := &chatcliv1.AgenticHistoryEntry{StepNumber: s.StepNumber, AiMessage: s.AIMessage, Observation: s.Observation}
		if s.Action != nil {
			e.Action, e.Params = string(s.Action.Type), maps.Clone(s.Action.Params)
		}
		req.History = append(req.History, e)
	}
	if issue.Status.InsightRef != nil {
		insight := &platformv1alpha1.AIInsight{}
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: issue.Status.InsightRef.Name}, insight); err == nil {
			req.InsightAnalysis, req.InsightRecommendations = insight.Status.Analysis, insight.Status.Recommendations
			// The loop asks the provider the incident was analysed with:
			// an Instance that names Claude gets Claude for every step,
			// not the analyzer's default.
			req.Provider, req.Model = string(insight.Spec.Provider), insight.Spec.Model
			if insight.Status.Confidence != nil {
				req.InsightConfidence = float32(*insight.Status.Confidence)
			}
			for _, a := range insight.Status.SuggestedActions {
				req.InsightSuggestedActions = append(req.InsightSuggestedActions, &chatcliv1.SuggestedAction{Name: a.Name, Action: string(a.Action), Description: a.Description, Params: maps.Clone(a.Params)})
			}
		}
	}
	callCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	resp, err := r.Analyzer.AgenticStep(callCtx, &analyzerv1.AgenticStepRequest{
		Step: req,
		Key:  &analyzerv1.AgenticStepKey{Plan: &commonv1.ObjectRef{Namespace: p.Namespace, Name: p.Name}, PlanUid: string(p.UID), StepNumber: n},
	})
	if err != nil {
		// A retry asks again with the same key; the analyzer's cache
		// answers with the decision already made.
		return ctrl.Result{}, fmt.Errorf("agentic step %d: %w", n, err)
	}
	st := resp.GetStep()
	t := metav1.NewTime(r.Now().UTC())
	entry := platformv1alpha1.AgenticStep{StepNumber: n, AIMessage: truncate(st.GetReasoning(), 8000), Timestamp: &t}
	switch {
	case st.GetResolved():
		entry.Observation = observationResolved
		// Scrubbed: the postmortem-writer publishes this text.
		res, _ := json.Marshal(platformv1alpha1.AgenticResolution{
			Summary: clean(st.GetPostmortemSummary(), 8000), RootCause: clean(st.GetRootCause(), 4000), Impact: clean(st.GetImpact(), 4000),
			LessonsLearned: cut(st.GetLessonsLearned()), PreventionActions: cut(st.GetPreventionActions()), ResolvedAt: &t,
		})
		return r.updateSpec(ctx, p, func(fresh *platformv1alpha1.RemediationPlan) {
			fresh.Spec.AgenticHistory = append(fresh.Spec.AgenticHistory, entry)
			if fresh.Annotations == nil {
				fresh.Annotations = map[string]string{}
			}
			fresh.Annotations[AnnotationAgenticResolution] = string(res)
		})
	case st.GetNextAction() == nil || st.GetNextAction().GetAction() == "":
		entry.Observation = observationNoAction
	default:
		a := platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionType(st.GetNextAction().GetAction()), Params: maps.Clone(st.GetNextAction().GetParams())}
		entry.Action = &a
		if st.GetDivergesFromInsight() && strings.TrimSpace(st.GetDivergenceReason()) == "" {
			entry.Observation = observationRefused + ": the step diverges from the analysis without saying why"
		}
		if !a.Type.IsValid() {
			// Unknown words stay out of the typed history.
			entry.Action = nil
			entry.Observation = fmt.Sprintf("%s: %q is not in the action catalogue", observationRefused, truncate(string(a.Type), 100))
		}
	}
	return r.updateSpec(ctx, p, func(fresh *platformv1alpha1.RemediationPlan) {
		fresh.Spec.AgenticHistory = append(fresh.Spec.AgenticHistory, entry)
	})
}

func cut(in []string) []string {
	var out []string
	for i, s := range in {
		if i == 16 {
			break
		}
		out = append(out, clean(s, 1000))
	}
	return out
}

// agenticResolved records the AI's account and verifies the target.
func (r *Reconciler) agenticResolved(ctx context.Context, p *platformv1alpha1.RemediationPlan) (ctrl.Result, error) {
	if p.Status.AgenticResolution == nil {
		res := &platformv1alpha1.AgenticResolution{}
		if raw := p.Annotations[AnnotationAgenticResolution]; raw != "" {
			if err := json.Unmarshal([]byte(raw), res); err != nil {
				res = &platformv1alpha1.AgenticResolution{Summary: "the AI declared the issue resolved"}
			}
		}
		p.Status.AgenticResolution = res
	}
	return r.startVerifying(ctx, p)
}

// agenticGiveUp restores what the steps changed.
func (r *Reconciler) agenticGiveUp(ctx context.Context, p *platformv1alpha1.RemediationPlan, why string) (ctrl.Result, error) {
	if hasApplied(p) {
		return r.rollback(ctx, p, why)
	}
	return r.finish(ctx, p, platformv1alpha1.PlanFailed, why)
}

// targetContext is what the AI sees of the target: its rollout state and
// its pods, in a few lines.
func (r *Reconciler) targetContext(ctx context.Context, target platformv1alpha1.ResourceReference, plan types.UID) (string, error) {
	if r.Context != nil {
		return r.Context(ctx, target)
	}
	obj, err := r.executors.Live(ctx, target, plan)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	var pods []corev1.Pod
	switch d := obj.(type) {
	case *appsv1.Deployment:
		replicas := int32(1)
		if d.Spec.Replicas != nil {
			replicas = *d.Spec.Replicas
		}
		fmt.Fprintf(&b, "Deployment %s/%s: %d desired, %d updated, %d ready, %d available, %d unavailable; generation %d, observed %d\n",
			d.Namespace, d.Name, replicas, d.Status.UpdatedReplicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas, d.Status.UnavailableReplicas, d.Generation, d.Status.ObservedGeneration)
		for _, c := range d.Spec.Template.Spec.Containers {
			fmt.Fprintf(&b, "container %s image %s requests %v limits %v\n", c.Name, c.Image, c.Resources.Requests, c.Resources.Limits)
		}
		pods, _, err = r.Executor.PodsOf(ctx, d)
	case *batchv1.Job:
		fmt.Fprintf(&b, "Job %s/%s: %d active, %d succeeded, %d failed; failed %t, complete %t\n",
			d.Namespace, d.Name, d.Status.Active, d.Status.Succeeded, d.Status.Failed,
			actions.JobCondition(d, batchv1.JobFailed), actions.JobCondition(d, batchv1.JobComplete))
		for _, c := range d.Spec.Template.Spec.Containers {
			fmt.Fprintf(&b, "container %s image %s requests %v limits %v\n", c.Name, c.Image, c.Resources.Requests, c.Resources.Limits)
		}
		pods, err = r.JobExecutor.Pods(ctx, d)
	}
	if err == nil {
		for i, pod := range pods {
			if i == 5 {
				break
			}
			ready := false
			for _, c := range pod.Status.Conditions {
				ready = ready || (c.Type == "Ready" && c.Status == "True")
			}
			fmt.Fprintf(&b, "pod %s phase %s ready %t restarts %d\n", pod.Name, pod.Status.Phase, ready, actions.Restarts(&pod))
		}
	}
	return truncate(b.String(), 15000), nil
}

// clean scrubs secrets out of AI text and cuts it to n bytes.
func clean(s string, n int) string { return scrub.Default().Scrub(s).Truncate(n).String() }
