package grpcx

import (
	"container/list"
	"context"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// Rate-limit defaults. The per-peer ones match the services'
// --grpc-rate-limit-* flags. The server-wide bucket, behind the per-peer
// ones, holds five peers going flat out: it caps what many distinct peers
// (a flood from many addresses, each with a fresh burst) can make one
// replica do.
const (
	DefaultRateLimitRPS         = 200
	DefaultRateLimitBurst       = 400
	DefaultGlobalRateLimitRPS   = 5 * DefaultRateLimitRPS
	DefaultGlobalRateLimitBurst = 5 * DefaultRateLimitBurst
	DefaultMaxPeers             = 10000
	DefaultPeerIdleTimeout      = 10 * time.Minute
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

// limitKey is the rate-limit bucket of a caller: its PeerIdentity, except
// that IPv6 addresses count by their /64, the block one host usually
// holds, so that a client cannot mint a fresh bucket per address.
func limitKey(ctx context.Context) string {
	id := PeerIdentity(ctx)
	const prefix = "ip:"
	if len(id) <= len(prefix) || id[:len(prefix)] != prefix {
		return id
	}
	addr, err := netip.ParseAddr(id[len(prefix):])
	if err != nil {
		return id
	}
	addr = addr.Unmap()
	if !addr.Is6() {
		return prefix + addr.String()
	}
	block, err := addr.WithZone("").Prefix(64)
	if err != nil {
		return id
	}
	return prefix + block.String()
}

// peerLimiter keeps one token bucket per peer, and a server-wide bucket
// behind them. The peers are an LRU list, so every step is O(1): peers idle
// longer than idle fall off the back, and at maxPeers the least recently
// seen peer is dropped to make room.
type peerLimiter struct {
	limit    rate.Limit
	burst    int
	maxPeers int
	idle     time.Duration
	now      func() time.Time
	global   *rate.Limiter

	mu    sync.Mutex
	peers map[string]*list.Element // of *peerBucket
	lru   *list.List               // most recently seen first
}

type peerBucket struct {
	key     string
	limiter *rate.Limiter
	seen    time.Time
}

func newPeerLimiter(rps float64, burst, maxPeers int, idle time.Duration, globalRPS float64, globalBurst int) *peerLimiter {
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
	if globalRPS <= 0 {
		globalRPS = DefaultGlobalRateLimitRPS
	}
	if globalBurst <= 0 {
		globalBurst = DefaultGlobalRateLimitBurst
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
		global:   rate.NewLimiter(rate.Limit(globalRPS), globalBurst),
		peers:    make(map[string]*list.Element),
		lru:      list.New(),
	}
}

// Which bucket ran dry; the value goes into the error's metadata.
const (
	limitedByPeer   = "peer"
	limitedByServer = "server"
)

// allow takes one token from key's bucket, then one from the server's. It
// returns "" when both had one, else which one ran dry. A peer refused by
// the server's bucket has still spent its own token: it was asking for
// more than its share of a server that is already busy.
func (l *peerLimiter) allow(key string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for e := l.lru.Back(); e != nil && now.Sub(e.Value.(*peerBucket).seen) >= l.idle; e = l.lru.Back() {
		l.remove(e)
	}
	e, ok := l.peers[key]
	if ok {
		l.lru.MoveToFront(e)
	} else {
		if l.lru.Len() >= l.maxPeers {
			l.remove(l.lru.Back())
		}
		e = l.lru.PushFront(&peerBucket{key: key, limiter: rate.NewLimiter(l.limit, l.burst)})
		l.peers[key] = e
	}
	b := e.Value.(*peerBucket)
	b.seen = now
	if !b.limiter.AllowN(now, 1) {
		return limitedByPeer
	}
	if !l.global.AllowN(now, 1) {
		return limitedByServer
	}
	return ""
}

func (l *peerLimiter) remove(e *list.Element) {
	delete(l.peers, e.Value.(*peerBucket).key)
	l.lru.Remove(e)
}

// The refusals are built once: under a flood they are answered from the
// connection's reader goroutine, which must not marshal details each time.
var limitedErrors = map[string]error{
	limitedByPeer:   Error(codes.ResourceExhausted, ReasonRateLimited, "rate limit exceeded, retry later", map[string]string{"limit": limitedByPeer}),
	limitedByServer: Error(codes.ResourceExhausted, ReasonRateLimited, "server busy: rate limit exceeded, retry later", map[string]string{"limit": limitedByServer}),
}

func (l *peerLimiter) check(ctx context.Context) error {
	if scope := l.allow(limitKey(ctx)); scope != "" {
		return limitedErrors[scope]
	}
	return nil
}

func (l *peerLimiter) unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if !tapChecked(ctx) {
			if err := l.check(ctx); err != nil {
				return nil, err
			}
		}
		return handler(ctx, req)
	}
}

// stream charges one token per stream, not per message: a stream is one
// call, and its messages are bounded by flow control.
func (l *peerLimiter) stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if !tapChecked(ss.Context()) {
			if err := l.check(ss.Context()); err != nil {
				return err
			}
		}
		return handler(srv, ss)
	}
}
