package grpcx

import (
	"context"
	"net"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Rate-limit defaults; they match the services' --grpc-rate-limit-* flags.
const (
	DefaultRateLimitRPS    = 200
	DefaultRateLimitBurst  = 400
	DefaultMaxPeers        = 10000
	DefaultPeerIdleTimeout = 10 * time.Minute
)

// PeerIdentity names the caller of an RPC: "cn:<common name>" for a client
// whose certificate the server verified (mTLS), else "ip:<address>" without
// the port, since a client opens a new port on every reconnect. The prefixes
// keep a certificate name from colliding with an address.
func PeerIdentity(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return "unknown"
	}
	if info, ok := p.AuthInfo.(credentials.TLSInfo); ok {
		chains := info.State.VerifiedChains
		if len(chains) > 0 && len(chains[0]) > 0 && chains[0][0].Subject.CommonName != "" {
			return "cn:" + chains[0][0].Subject.CommonName
		}
	}
	if p.Addr == nil {
		return "unknown"
	}
	host, _, err := net.SplitHostPort(p.Addr.String())
	if err != nil {
		return "ip:" + p.Addr.String()
	}
	return "ip:" + host
}

// peerLimiter keeps one token bucket per peer. The map is bounded: peers idle
// longer than idle are swept, and at maxPeers the least recently seen peer is
// dropped to make room.
type peerLimiter struct {
	limit    rate.Limit
	burst    int
	maxPeers int
	idle     time.Duration
	now      func() time.Time

	mu    sync.Mutex
	peers map[string]*peerBucket
	swept time.Time
}

type peerBucket struct {
	limiter *rate.Limiter
	seen    time.Time
}

func newPeerLimiter(rps float64, burst, maxPeers int, idle time.Duration) *peerLimiter {
	if rps <= 0 {
		rps = DefaultRateLimitRPS
	}
	if burst <= 0 {
		burst = DefaultRateLimitBurst
	}
	if maxPeers <= 0 {
		maxPeers = DefaultMaxPeers
	}
	if idle <= 0 {
		idle = DefaultPeerIdleTimeout
	}
	// A bucket idle for its refill time is full again, so forgetting it
	// then gives the peer nothing it would not have had anyway.
	if refill := time.Duration(float64(burst) / rps * float64(time.Second)); idle < refill {
		idle = refill
	}
	return &peerLimiter{
		limit:    rate.Limit(rps),
		burst:    burst,
		maxPeers: maxPeers,
		idle:     idle,
		now:      time.Now,
		peers:    make(map[string]*peerBucket),
	}
}

// allow takes one token from key's bucket.
func (l *peerLimiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.swept) >= l.idle {
		l.sweep(now)
	}
	b, ok := l.peers[key]
	if !ok {
		if len(l.peers) >= l.maxPeers {
			l.sweep(now)
		}
		if len(l.peers) >= l.maxPeers {
			l.evictOldest()
		}
		b = &peerBucket{limiter: rate.NewLimiter(l.limit, l.burst)}
		l.peers[key] = b
	}
	b.seen = now
	return b.limiter.AllowN(now, 1)
}

func (l *peerLimiter) sweep(now time.Time) {
	l.swept = now
	for key, b := range l.peers {
		if now.Sub(b.seen) >= l.idle {
			delete(l.peers, key)
		}
	}
}

// evictOldest is linear, but it runs only when maxPeers distinct peers were
// all active within the idle timeout.
func (l *peerLimiter) evictOldest() {
	var oldestKey string
	var oldest time.Time
	for key, b := range l.peers {
		if oldestKey == "" || b.seen.Before(oldest) {
			oldestKey, oldest = key, b.seen
		}
	}
	delete(l.peers, oldestKey)
}

func (l *peerLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.peers)
}

func (l *peerLimiter) check(ctx context.Context) error {
	if !l.allow(PeerIdentity(ctx)) {
		return status.Error(codes.ResourceExhausted, "rate limit exceeded, retry later")
	}
	return nil
}

func (l *peerLimiter) unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := l.check(ctx); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// stream charges one token per stream, not per message: a stream is one
// call, and its messages are bounded by flow control.
func (l *peerLimiter) stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if err := l.check(ss.Context()); err != nil {
			return err
		}
		return handler(srv, ss)
	}
}
