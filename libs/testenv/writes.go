package testenv

import (
	"context"
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// StatusWrites records the status writes a reconciler sends, so that a
// test can keep the API writes per object from creeping back: for each
// write that succeeds, by object name, what record makes of the object as
// written (a state, say); objects record declines are not kept.
type StatusWrites struct {
	record func(client.Object) (string, bool)

	mu     sync.Mutex
	byName map[string][]string
}

// NewStatusWrites returns an empty record.
func NewStatusWrites(record func(client.Object) (string, bool)) *StatusWrites {
	return &StatusWrites{record: record, byName: map[string][]string{}}
}

// Of returns what was recorded of the writes of the object named name,
// oldest first.
func (w *StatusWrites) Of(name string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.byName[name]...)
}

// Wrap returns c with its status writes recorded.
func (w *StatusWrites) Wrap(c client.Client) client.Client { return recordingClient{Client: c, w: w} }

type recordingClient struct {
	client.Client
	w *StatusWrites
}

func (c recordingClient) Status() client.SubResourceWriter {
	return recordingStatus{SubResourceWriter: c.Client.Status(), w: c.w}
}

type recordingStatus struct {
	client.SubResourceWriter
	w *StatusWrites
}

func (s recordingStatus) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	err := s.SubResourceWriter.Patch(ctx, obj, patch, opts...)
	s.add(obj, err)
	return err
}

func (s recordingStatus) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	err := s.SubResourceWriter.Update(ctx, obj, opts...)
	s.add(obj, err)
	return err
}

func (s recordingStatus) add(obj client.Object, err error) {
	if err != nil {
		return
	}
	if v, ok := s.w.record(obj); ok {
		s.w.mu.Lock()
		s.w.byName[obj.GetName()] = append(s.w.byName[obj.GetName()], v)
		s.w.mu.Unlock()
	}
}
