package issue

import (
	"context"
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// statusWrites records each Issue status write a reconciler sends, by
// Issue name, as the state the write left: the API writes per incident
// are a cost the pipeline benchmark prints, and this keeps them from
// creeping back.
type statusWrites struct {
	mu     sync.Mutex
	states map[string][]string
}

func newStatusWrites() *statusWrites { return &statusWrites{states: map[string][]string{}} }

func (w *statusWrites) of(name string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.states[name]...)
}

// wrap returns c with its status writes recorded.
func (w *statusWrites) wrap(c client.Client) client.Client { return countingClient{Client: c, w: w} }

type countingClient struct {
	client.Client
	w *statusWrites
}

func (c countingClient) Status() client.SubResourceWriter {
	return countingStatus{SubResourceWriter: c.Client.Status(), w: c.w}
}

type countingStatus struct {
	client.SubResourceWriter
	w *statusWrites
}

func (s countingStatus) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	err := s.SubResourceWriter.Patch(ctx, obj, patch, opts...)
	if issue, ok := obj.(*platformv1alpha1.Issue); ok && err == nil {
		s.w.mu.Lock()
		s.w.states[issue.Name] = append(s.w.states[issue.Name], string(issue.Status.State))
		s.w.mu.Unlock()
	}
	return err
}
