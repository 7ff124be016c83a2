package actions

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// Annotations of the Jobs RetryJob creates.
const (
	// AnnotationRetryKey names the action run (Request.Key, "<plan
	// uid>/<index>") whose RetryJob created the Job: a repeat of that run
	// finds it and creates no second one, and the plan's later steps take
	// it for their target (StandsFor).
	AnnotationRetryKey = "platform.chatcli.io/retry-key"
	// AnnotationRetriedFrom is the uid of the Job it replaced.
	AnnotationRetriedFrom = "platform.chatcli.io/retried-from-uid"
	// AnnotationRetryOf is the uid of the first Job of the lineage: the
	// Job an incident named, however many times it was re-run since.
	AnnotationRetryOf = "platform.chatcli.io/retry-of-uid"
)

// The labels the API server puts on a Job and its pod template when it
// generates the selector: a copy that kept them would name the old Job's
// uid, and the API server refuses a selector it did not generate.
var generatedJobLabels = []string{batchv1.ControllerUidLabel, batchv1.JobNameLabel, "controller-uid", "job-name"}

// JobExecutor runs the Job actions.
type JobExecutor struct {
	Client client.Client
}

var _ KindExecutor = (*JobExecutor)(nil)

// jobSnapshot is what the Job actions change.
type jobSnapshot struct {
	// Retry is the Job RetryJob creates and the uid of the one it deletes.
	Retry *jobRetry `json:"retry,omitempty"`
	// Setting is the previous value of the spec field an Adjust, Suspend
	// or Resume action sets.
	Setting *jobSetting `json:"setting,omitempty"`
}

type jobRetry struct {
	// UID of the failed Job.
	UID string `json:"uid"`
	// Job is the copy to create: metadata and spec, generated parts gone.
	Job *batchv1.Job `json:"job"`
}

// jobSetting is one spec field; Value nil means it was unset.
type jobSetting struct {
	Field string `json:"field"`
	Value *int64 `json:"value,omitempty"`
}

// jobField is one mutable spec field the Job actions set, as an int64
// (suspend as 0 or 1).
type jobField struct {
	name string
	get  func(*batchv1.JobSpec) *int64
	set  func(*batchv1.JobSpec, *int64)
}

func int32Field(name string, f func(*batchv1.JobSpec) **int32) jobField {
	return jobField{name: name,
		get: func(s *batchv1.JobSpec) *int64 {
			if v := *f(s); v != nil {
				return ptrTo(int64(*v))
			}
			return nil
		},
		set: func(s *batchv1.JobSpec, v *int64) {
			if v == nil {
				*f(s) = nil
				return
			}
			*f(s) = ptrTo(int32(*v))
		}}
}

var jobFields = map[string]jobField{
	"suspend": {name: "suspend",
		get: func(s *batchv1.JobSpec) *int64 {
			if s.Suspend != nil && *s.Suspend {
				return ptrTo(int64(1))
			}
			return ptrTo(int64(0))
		},
		set: func(s *batchv1.JobSpec, v *int64) { s.Suspend = ptrTo(v != nil && *v == 1) }},
	ParamParallelism:  int32Field(ParamParallelism, func(s *batchv1.JobSpec) **int32 { return &s.Parallelism }),
	ParamBackoffLimit: int32Field(ParamBackoffLimit, func(s *batchv1.JobSpec) **int32 { return &s.BackoffLimit }),
	ParamActiveDeadlineSeconds: {name: ParamActiveDeadlineSeconds,
		get: func(s *batchv1.JobSpec) *int64 { return s.ActiveDeadlineSeconds },
		set: func(s *batchv1.JobSpec, v *int64) { s.ActiveDeadlineSeconds = v }},
}

// setting returns the field req's action sets and the value it sets.
func setting(action platformv1alpha1.RemediationAction) (jobField, int64, error) {
	switch action.Type {
	case platformv1alpha1.ActionSuspendJob:
		return jobFields["suspend"], 1, Validate(action.Type, action.Params)
	case platformv1alpha1.ActionResumeJob:
		return jobFields["suspend"], 0, Validate(action.Type, action.Params)
	case platformv1alpha1.ActionAdjustJobParallelism, platformv1alpha1.ActionAdjustJobDeadline, platformv1alpha1.ActionAdjustJobBackoffLimit:
		name, v, err := ParseJobSetting(action.Type, action.Params)
		return jobFields[name], v, err
	}
	return jobField{}, 0, fmt.Errorf("%s: %w", action.Type, ErrNotImplemented)
}

// APIVersion of Jobs.
func (e *JobExecutor) APIVersion() string { return batchv1.SchemeGroupVersion.String() }

// Live returns the target Job, or the Job a RetryJob of plan made of it.
func (e *JobExecutor) Live(ctx context.Context, target platformv1alpha1.ResourceReference, plan types.UID) (client.Object, error) {
	return e.job(ctx, target, plan)
}

func (e *JobExecutor) job(ctx context.Context, target platformv1alpha1.ResourceReference, plan types.UID) (*batchv1.Job, error) {
	if target.Kind != KindJob {
		return nil, fmt.Errorf("target kind %s: the Job executor acts on Jobs", target.Kind)
	}
	j := &batchv1.Job{}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: target.Namespace, Name: target.Name}, j); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("%s: %w", target, ErrTargetMissing)
		}
		return nil, fmt.Errorf("get %s: %w", target, err)
	}
	if !StandsFor(j, target, plan) {
		return nil, fmt.Errorf("%s: %w (%s, expected %s)", target, ErrTargetReplaced, j.UID, target.UID)
	}
	return j, nil
}

// Pods returns the pods the Job controls: those its selector matches (the
// generated one names its uid; a manual one is the user's) whose
// controller is the Job.
func (e *JobExecutor) Pods(ctx context.Context, obj client.Object) ([]corev1.Pod, error) {
	j, ok := obj.(*batchv1.Job)
	if !ok {
		return nil, fmt.Errorf("%T is not a Job", obj)
	}
	sel, err := metav1.LabelSelectorAsSelector(j.Spec.Selector)
	if err != nil || sel.Empty() {
		return nil, fmt.Errorf("job %s has no usable selector", j.Name)
	}
	list := &corev1.PodList{}
	if err := e.Client.List(ctx, list, client.InNamespace(j.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, fmt.Errorf("list pods of Job %s: %w", j.Name, err)
	}
	var pods []corev1.Pod
	for _, p := range list.Items {
		if ref := metav1.GetControllerOf(&p); ref != nil && ref.UID == j.UID {
			pods = append(pods, p)
		}
	}
	return pods, nil
}

// JobCondition says whether j has condition t True.
func JobCondition(j *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// Snapshot saves what req's action will change.
func (e *JobExecutor) Snapshot(ctx context.Context, req Request) (string, error) {
	j, err := e.job(ctx, req.Target, req.Plan)
	if err != nil {
		return "", err
	}
	var s jobSnapshot
	switch req.Action.Type {
	case platformv1alpha1.ActionRetryJob, platformv1alpha1.ActionAdjustJobResources:
		if _, err := recreateChange(req.Action); err != nil {
			return "", err
		}
		// Re-running a Job that still runs or that succeeded would kill
		// its work or do it twice.
		if !JobCondition(j, batchv1.JobFailed) {
			return "", fmt.Errorf("job %s has not failed (no Failed condition): %s re-runs only a failed Job", j.Name, req.Action.Type)
		}
		s.Retry = &jobRetry{UID: string(j.UID), Job: retryCopy(j)}
	default:
		f, _, err := setting(req.Action)
		if err != nil {
			return "", err
		}
		s.Setting = &jobSetting{Field: f.name, Value: f.get(&j.Spec)}
	}
	return encodeSnapshot(s)
}

// retryCopy is j as it is created again: its name, labels, annotations,
// owners and spec, without what the API server generated for the old
// Job (uid, selector and the labels that carry them) and without status.
func retryCopy(j *batchv1.Job) *batchv1.Job {
	c := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: j.Namespace, Name: j.Name,
			Labels: maps.Clone(j.Labels), Annotations: maps.Clone(j.Annotations),
			OwnerReferences: j.OwnerReferences,
		},
		Spec: *j.Spec.DeepCopy(),
	}
	// A selector the user wrote (manualSelector) is theirs to keep; the
	// generated one names the old uid.
	if c.Spec.ManualSelector == nil || !*c.Spec.ManualSelector {
		c.Spec.Selector = nil
		for _, l := range generatedJobLabels {
			delete(c.Labels, l)
			delete(c.Spec.Template.Labels, l)
		}
	}
	for _, a := range []string{AnnotationRetryKey, AnnotationRetriedFrom, AnnotationFence} {
		delete(c.Annotations, a)
	}
	return c
}

// Apply runs req's action.
func (e *JobExecutor) Apply(ctx context.Context, req Request, snapshot string) (Outcome, error) {
	var s jobSnapshot
	if err := decodeSnapshot(snapshot, &s); err != nil {
		return Outcome{}, err
	}
	switch req.Action.Type {
	case platformv1alpha1.ActionRetryJob, platformv1alpha1.ActionAdjustJobResources:
		change, err := recreateChange(req.Action)
		if err != nil {
			return Outcome{}, err
		}
		if s.Retry == nil || s.Retry.Job == nil {
			return Outcome{}, fmt.Errorf("%s: the snapshot holds no Job", req.Action.Type)
		}
		out, err := e.retry(ctx, req, s.Retry, change)
		if err != nil {
			return Outcome{}, fmt.Errorf("%s on %s: %w", req.Action.Type, req.Target, err)
		}
		return out, nil
	}
	f, v, err := setting(req.Action)
	if err != nil {
		return Outcome{}, err
	}
	return e.update(ctx, req, func(j *batchv1.Job) string {
		f.set(&j.Spec, &v)
		return settingMessage(f.name, &v)
	})
}

// Restore undoes req's action from its snapshot.
func (e *JobExecutor) Restore(ctx context.Context, req Request, snapshot string) (Outcome, error) {
	var s jobSnapshot
	if err := decodeSnapshot(snapshot, &s); err != nil {
		return Outcome{}, err
	}
	switch {
	case s.Retry != nil:
		// The old Job is deleted and the new one has run or runs: there
		// is no earlier state to put back, and deleting the new Job would
		// only lose what it did.
		return Outcome{NotUndone: true, Message: "not undone: " + string(req.Action.Type) + " re-ran Job " + req.Target.Name + " (uid " + s.Retry.UID +
			" was deleted), and a Job that ran cannot be un-run; the new Job is left as it is"}, nil
	case s.Setting != nil:
		f, ok := jobFields[s.Setting.Field]
		if !ok {
			return Outcome{}, fmt.Errorf("the snapshot names an unknown Job field %q", s.Setting.Field)
		}
		return e.update(ctx, req, func(j *batchv1.Job) string {
			f.set(&j.Spec, s.Setting.Value)
			return "restored " + settingMessage(f.name, s.Setting.Value)
		})
	}
	return Outcome{}, fmt.Errorf("the snapshot holds nothing to restore")
}

func settingMessage(field string, v *int64) string {
	switch {
	case field == "suspend" && v != nil && *v == 1:
		return "suspended the Job"
	case field == "suspend":
		return "resumed the Job"
	case v == nil:
		return "unset " + field
	}
	return "set " + field + " to " + strconv.FormatInt(*v, 10)
}

// update changes the live Job's spec under the fence, retrying on
// conflicts, as the Deployment executor does.
func (e *JobExecutor) update(ctx context.Context, req Request, change func(*batchv1.Job) string) (Outcome, error) {
	var out Outcome
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		j, err := e.job(ctx, req.Target, req.Plan)
		if err != nil {
			return err
		}
		before := j.DeepCopy()
		msg := change(j)
		out = Outcome{Message: msg}
		if equality.Semantic.DeepEqual(before.Spec, j.Spec) {
			out.Message = msg + " (no change needed)"
			return nil
		}
		if j.Annotations, err = checkFence(j.Annotations, req.Fence); err != nil {
			return err
		}
		if err := e.Client.Update(ctx, j, dryRun(req)...); err != nil {
			return err
		}
		out.Changed = []string{"Job/" + j.Namespace + "/" + j.Name}
		out.Before, out.After = jobYAML(before), jobYAML(j)
		return nil
	})
	if err != nil {
		return Outcome{}, fmt.Errorf("%s on %s: %w", req.Action.Type, req.Target, err)
	}
	return out, nil
}

// jobYAML shows what a person needs to compare of a Job: its labels,
// annotations and spec.
func jobYAML(j *batchv1.Job) string {
	b, err := yaml.Marshal(struct {
		Labels      map[string]string `json:"labels,omitempty"`
		Annotations map[string]string `json:"annotations,omitempty"`
		Spec        batchv1.JobSpec   `json:"spec"`
	}{j.Labels, j.Annotations, j.Spec})
	if err != nil {
		return ""
	}
	return string(b)
}

// retry deletes the failed Job and creates it anew. Every step can run
// again: the Job of this run's key is found and kept (a repeat after the
// create does nothing), a missing Job is created (a crash between the
// delete and the create creates it on resume), and the old Job is deleted
// only under its uid.
func (e *JobExecutor) retry(ctx context.Context, req Request, s *jobRetry, change func(*batchv1.Job) (string, error)) (Outcome, error) {
	fresh, what, err := e.fresh(req, s, change)
	if err != nil {
		return Outcome{}, err
	}
	key := client.ObjectKey{Namespace: req.Target.Namespace, Name: req.Target.Name}
	var before *batchv1.Job
	// Twice at most: a create that loses to another object of the name
	// looks again at what is there.
	for range 2 {
		live := &batchv1.Job{}
		err := e.Client.Get(ctx, key, live)
		switch {
		case apierrors.IsNotFound(err):
			// Gone: deleted by this run before a crash, or just now.
		case err != nil:
			return Outcome{}, fmt.Errorf("get Job %s: %w", key.Name, err)
		case live.Annotations[AnnotationRetryKey] == req.Key && req.Key != "":
			return Outcome{Message: fmt.Sprintf("already re-ran Job %s: uid %s replaced %s", live.Name, live.UID, s.UID)}, nil
		case string(live.UID) != s.UID:
			return Outcome{}, fmt.Errorf("%s: %w (%s, expected %s)", req.Target, ErrTargetReplaced, live.UID, s.UID)
		case live.DeletionTimestamp != nil:
			return Outcome{}, fmt.Errorf("job %s (uid %s) is being deleted: %w", live.Name, live.UID, ErrInProgress)
		case req.DryRun:
			return e.dryRunRetry(ctx, live, fresh.DeepCopy(), what)
		default:
			before = live.DeepCopy()
			if err := e.deleteFailed(ctx, req, live); err != nil {
				return Outcome{}, err
			}
			gone := &batchv1.Job{}
			if err := e.Client.Get(ctx, key, gone); err == nil && string(gone.UID) == s.UID {
				// A finalizer holds it; the next pass creates the Job.
				return Outcome{}, fmt.Errorf("job %s (uid %s) is being deleted: %w", key.Name, s.UID, ErrInProgress)
			} else if err != nil && !apierrors.IsNotFound(err) {
				return Outcome{}, fmt.Errorf("get Job %s: %w", key.Name, err)
			}
		}
		if req.DryRun {
			return Outcome{}, fmt.Errorf("job %s is gone: nothing to dry-run", key.Name)
		}
		created := fresh.DeepCopy()
		err = e.Client.Create(ctx, created)
		if apierrors.IsAlreadyExists(err) {
			continue
		}
		if err != nil {
			return Outcome{}, fmt.Errorf("create Job %s: %w", key.Name, err)
		}
		out := Outcome{Message: fmt.Sprintf("re-ran Job %s%s: deleted uid %s, created uid %s", created.Name, what, s.UID, created.UID),
			Changed: []string{"Job/" + created.Namespace + "/" + created.Name}, After: jobYAML(created)}
		if before != nil {
			out.Before = jobYAML(before)
		}
		return out, nil
	}
	return Outcome{}, fmt.Errorf("job %s: another object of the name keeps appearing", key.Name)
}

// recreateChange returns what an action that recreates the Job changes in
// the copy (nothing for RetryJob, one container's resources for
// AdjustJobResources); an error for an action that does not recreate.
func recreateChange(a platformv1alpha1.RemediationAction) (func(*batchv1.Job) (string, error), error) {
	switch a.Type {
	case platformv1alpha1.ActionRetryJob:
		if err := Validate(a.Type, a.Params); err != nil {
			return nil, err
		}
		return func(*batchv1.Job) (string, error) { return "", nil }, nil
	case platformv1alpha1.ActionAdjustJobResources:
		p, err := ParseResources(a.Type, a.Params)
		if err != nil {
			return nil, err
		}
		// A Job's pod template is immutable: new resources take a new Job.
		return func(j *batchv1.Job) (string, error) {
			msg, err := AdjustContainer(&j.Spec.Template.Spec, p)
			return " with " + strings.TrimPrefix(msg, "adjusted "), err
		}, nil
	}
	return nil, fmt.Errorf("%s does not recreate the Job", a.Type)
}

// fresh is the Job to create for req: the snapshot's copy changed by the
// action, marked with the run's key, the uid it replaces and the fence.
func (e *JobExecutor) fresh(req Request, s *jobRetry, change func(*batchv1.Job) (string, error)) (*batchv1.Job, string, error) {
	j := s.Job.DeepCopy()
	what, err := change(j)
	if err != nil {
		return nil, "", err
	}
	if j.Annotations == nil {
		j.Annotations = map[string]string{}
	}
	j.Annotations[AnnotationRetryKey] = req.Key
	j.Annotations[AnnotationRetriedFrom] = s.UID
	if j.Annotations[AnnotationRetryOf] == "" { // kept from the old Job, if it was a re-run too
		j.Annotations[AnnotationRetryOf] = s.UID
	}
	if req.Fence != 0 {
		j.Annotations[AnnotationFence] = strconv.FormatInt(req.Fence, 10)
	}
	return j, what, nil
}

// deleteFailed records the fence on the failed Job, so that a stale lock
// holder is refused, then deletes it at exactly that version, in the
// background: the garbage collector takes its pods, and the name is free
// at once (a foreground deletion would keep the Job until every pod is
// gone).
func (e *JobExecutor) deleteFailed(ctx context.Context, req Request, live *batchv1.Job) error {
	var err error
	if live.Annotations, err = checkFence(live.Annotations, req.Fence); err != nil {
		return err
	}
	if req.Fence != 0 {
		if err := e.Client.Update(ctx, live); err != nil {
			return fmt.Errorf("record the fence on Job %s: %w", live.Name, err)
		}
	}
	uid, rv := live.UID, live.ResourceVersion
	err = e.Client.Delete(ctx, live, client.PropagationPolicy(metav1.DeletePropagationBackground),
		client.Preconditions{UID: &uid, ResourceVersion: &rv})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete Job %s (uid %s): %w", live.Name, uid, err)
	}
	return nil
}

// dryRunRetry sends the delete and the create as server-side dry-runs.
// The create cannot take the name while the old Job holds it, so it asks
// for a generated one: the server still checks the copy (its selector and
// labels, its spec) as it would the real one.
func (e *JobExecutor) dryRunRetry(ctx context.Context, live, fresh *batchv1.Job, what string) (Outcome, error) {
	uid := live.UID
	if err := e.Client.Delete(ctx, live.DeepCopy(), client.PropagationPolicy(metav1.DeletePropagationBackground),
		client.Preconditions{UID: &uid}, client.DryRunAll); err != nil {
		return Outcome{}, fmt.Errorf("dry-run delete of Job %s: %w", live.Name, err)
	}
	probe := fresh.DeepCopy()
	probe.Name, probe.GenerateName = "", strings.TrimSuffix(truncateName(fresh.Name, 57), "-")+"-"
	if err := e.Client.Create(ctx, probe, client.DryRunAll); err != nil {
		return Outcome{}, fmt.Errorf("dry-run create of Job %s: %w", fresh.Name, err)
	}
	return Outcome{Message: fmt.Sprintf("would delete Job %s (uid %s) and create it anew from its template%s", live.Name, live.UID, what),
		Changed: []string{"Job/" + live.Namespace + "/" + live.Name}, Before: jobYAML(live), After: jobYAML(fresh)}, nil
}

func truncateName(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
