package bootstrap

import (
	"context"
	"errors"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ErrStatusWriteFromHandler is returned for a status write through a
// Runtime's HandlerClient.
var ErrStatusWriteFromHandler = errors.New("request handlers never write status: record the request on the object and let the leader's reconciler write it")

// NoStatusWrites wraps c so that every write to the status subresource
// fails with ErrStatusWriteFromHandler. Reads, creates, updates and patches
// of the object itself pass through.
//
// The rule it enforces: a status has one writer, the owning service's
// leader-elected reconciler. gRPC and webhook handlers run on every replica,
// so a status write from one would race the leader's.
func NoStatusWrites(c client.Client) client.Client {
	return &noStatusClient{Client: c}
}

type noStatusClient struct{ client.Client }

func (c *noStatusClient) Status() client.SubResourceWriter { return refusedStatusWriter{} }

func (c *noStatusClient) SubResource(subResource string) client.SubResourceClient {
	if subResource == "status" {
		return refusedStatusWriter{SubResourceClient: c.Client.SubResource(subResource)}
	}
	return c.Client.SubResource(subResource)
}

// refusedStatusWriter refuses writes; reads of the subresource pass through
// when it wraps a client.
type refusedStatusWriter struct{ client.SubResourceClient }

func (refusedStatusWriter) Create(context.Context, client.Object, client.Object, ...client.SubResourceCreateOption) error {
	return ErrStatusWriteFromHandler
}

func (refusedStatusWriter) Update(context.Context, client.Object, ...client.SubResourceUpdateOption) error {
	return ErrStatusWriteFromHandler
}

func (refusedStatusWriter) Patch(context.Context, client.Object, client.Patch, ...client.SubResourcePatchOption) error {
	return ErrStatusWriteFromHandler
}

func (refusedStatusWriter) Apply(context.Context, runtime.ApplyConfiguration, ...client.SubResourceApplyOption) error {
	return ErrStatusWriteFromHandler
}
