package k8sctx

import (
	"fmt"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
)

// currentDeploymentRevision is the revision of the Deployment's spec: that
// of its CurrentReplicaSet, so that a revision annotation the controller
// has not updated yet cannot name the previous one. Without such a
// ReplicaSet it is the annotation's, once the controller has observed the
// spec, and 0 (not created yet) before.
func currentDeploymentRevision(d *appsv1.Deployment, sets []appsv1.ReplicaSet, observed bool) int64 {
	var owned []appsv1.ReplicaSet
	for _, rs := range sets {
		if ownedBy(rs.OwnerReferences, d.UID) {
			owned = append(owned, rs)
		}
	}
	if rs := CurrentReplicaSet(d, owned); rs != nil {
		n, _ := strconv.ParseInt(rs.Annotations[revisionAnnotation], 10, 64)
		return n
	}
	if !observed {
		return 0
	}
	n, _ := strconv.ParseInt(d.Annotations[revisionAnnotation], 10, 64)
	return n
}

// CurrentReplicaSet returns the ReplicaSet of d's current pod template
// among those d owns: the one whose template equals it without the
// pod-template-hash label (the Deployment controller's own rule).
func CurrentReplicaSet(d *appsv1.Deployment, owned []appsv1.ReplicaSet) *appsv1.ReplicaSet {
	for i := range owned {
		t := owned[i].Spec.Template.DeepCopy()
		delete(t.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
		if apiequality.Semantic.DeepEqual(*t, d.Spec.Template) {
			return &owned[i]
		}
	}
	return nil
}

// finishRevisions sorts the revisions newest first, keeps MaxRevisions,
// computes the changes between them and finds the last healthy one.
//
// A revision other than the current one is healthy when:
//   - it still has pods and all of them are ready and none fails (a
//     rollout stuck on a failing revision keeps the old one serving); or
//   - it is the one the current revision replaced, at no pods, and the
//     current revision was rolled out before the incident began (the
//     old revision served until the rollout, and the incident came
//     with it).
//
// The current revision is healthy when the workload is.
func (b *Builder) finishRevisions(c *Context, revs []Revision, pods []Pod) {
	sort.Slice(revs, func(i, j int) bool { return revs[i].Number > revs[j].Number })
	failing := map[string]bool{}
	for _, p := range pods {
		if p.Failing {
			failing[p.Revision] = true
		}
	}
	for i := range revs {
		r := &revs[i]
		if i+1 < len(revs) {
			r.Changes = diffContainers(revs[i+1].Containers, r.Containers)
		}
		num := strconv.FormatInt(r.Number, 10)
		switch {
		case r.Current:
			r.Healthy = c.Healthy
			if r.Healthy {
				r.HealthEvidence = "the workload is healthy on it"
			}
		case r.Desired > 0 && r.Ready >= r.Desired && !failing[num]:
			r.Healthy = true
			r.HealthEvidence = fmt.Sprintf("still serving: %d/%d ready", r.Ready, r.Desired)
		case r.Desired == 0 && i > 0 && revs[i-1].Current && !b.IncidentStart.IsZero() && revs[i-1].Created.Before(b.IncidentStart):
			r.Healthy = true
			r.HealthEvidence = "served until the current revision's rollout, which came before the incident"
		}
		if r.Healthy && !r.Current && c.LastHealthyRevision == 0 {
			c.LastHealthyRevision = r.Number
		}
	}
	if len(revs) > MaxRevisions {
		revs = revs[:MaxRevisions]
	}
	c.Revisions = revs
}

// diffContainers lists the image and resource changes from old to cur.
func diffContainers(old, cur []Container) []string {
	var out []string
	olds := map[string]Container{}
	for _, o := range old {
		olds[o.Name] = o
	}
	for _, n := range cur {
		o, ok := olds[n.Name]
		if !ok {
			out = append(out, fmt.Sprintf("container %s added (image %s)", n.Name, n.Image))
			continue
		}
		delete(olds, n.Name)
		if o.Image != n.Image {
			out = append(out, fmt.Sprintf("container %s image %s -> %s", n.Name, o.Image, n.Image))
		}
		out = append(out, diffResources(n.Name, "requests", o.Requests, n.Requests)...)
		out = append(out, diffResources(n.Name, "limits", o.Limits, n.Limits)...)
	}
	for _, name := range sortedKeys(olds) {
		out = append(out, fmt.Sprintf("container %s removed", name))
	}
	return out
}
