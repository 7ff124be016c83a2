package grpcserver

import (
	"context"
	"errors"
	"slices"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	watcherv1 "github.com/chatcli/aiops/proto/chatcli/platform/watcher/v1"
)

// watcherServiceDesc is the generated WatcherService with IngestSignals
// decoded signal by signal. The proto codec refuses a whole message with
// one string that is not UTF-8, as Internal: one bad alert text would fail
// a batch of a thousand. Decoded one by one, the bad signal is rejected
// alone, like any other invalid signal.
func watcherServiceDesc() *grpc.ServiceDesc {
	desc := watcherv1.WatcherService_ServiceDesc
	desc.Methods = slices.Clone(desc.Methods)
	for i := range desc.Methods {
		if desc.Methods[i].MethodName == "IngestSignals" {
			desc.Methods[i].Handler = ingestSignalsHandler
		}
	}
	return &desc
}

// ingestSignalsHandler is the generated handler with a lenient decoder.
func ingestSignalsHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	// An Empty keeps every field as unknown bytes, which are not checked
	// for UTF-8.
	raw := &emptypb.Empty{}
	if err := dec(raw); err != nil {
		return nil, err
	}
	in, undecodable, err := decodeIngestSignalsRequest(raw.ProtoReflect().GetUnknown())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, "the request is not a valid IngestSignalsRequest")
	}
	ctx = context.WithValue(ctx, undecodableKey{}, undecodable)
	call := func(ctx context.Context, req any) (any, error) {
		return srv.(watcherv1.WatcherServiceServer).IngestSignals(ctx, req.(*watcherv1.IngestSignalsRequest))
	}
	if interceptor == nil {
		return call(ctx, in)
	}
	return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: watcherv1.WatcherService_IngestSignals_FullMethodName}, call)
}

// undecodableKey holds, in a request's context, the positions of the
// signals that could not be decoded.
type undecodableKey struct{}

func undecodableSignals(ctx context.Context) map[int]bool {
	m, _ := ctx.Value(undecodableKey{}).(map[int]bool)
	return m
}

// signalsField is IngestSignalsRequest.signals.
const signalsField protowire.Number = 1

// decodeIngestSignalsRequest decodes each signal on its own. A signal that
// does not decode is an empty placeholder whose position is returned, so
// that results stay in request order; only broken framing of the request
// itself is an error.
func decodeIngestSignalsRequest(b []byte) (*watcherv1.IngestSignalsRequest, map[int]bool, error) {
	req := &watcherv1.IngestSignalsRequest{}
	undecodable := map[int]bool{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, nil, protowire.ParseError(n)
		}
		b = b[n:]
		if num != signalsField || typ != protowire.BytesType {
			// An unknown field, from a newer client.
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return nil, nil, protowire.ParseError(n)
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return nil, nil, protowire.ParseError(n)
		}
		b = b[n:]
		s := &watcherv1.Signal{}
		if err := proto.Unmarshal(v, s); err != nil {
			undecodable[len(req.Signals)] = true
			s = &watcherv1.Signal{}
		}
		req.Signals = append(req.Signals, s)
	}
	if len(b) != 0 {
		return nil, nil, errors.New("trailing bytes")
	}
	return req, undecodable, nil
}
