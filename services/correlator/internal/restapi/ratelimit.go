package restapi

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// keyLimiter is a token bucket per caller (key id), not per connection: a
// client that opens a new connection per request still draws from its one
// bucket. The number of buckets is bounded by the keys in the Secret.
type keyLimiter struct {
	rps   rate.Limit
	burst int
	// maxBuckets, when not zero, bounds the buckets: past it they all
	// start afresh, so callers who pick their own bucket names (addresses)
	// cannot grow the map without bound.
	maxBuckets int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

func newKeyLimiter(rps float64, burst int) *keyLimiter {
	return &keyLimiter{rps: rate.Limit(rps), burst: burst, buckets: map[string]*rate.Limiter{}}
}

// allow takes a token from id's bucket; when there is none it returns how
// long until there is, rounded up to a whole second for Retry-After.
func (l *keyLimiter) allow(id string, now time.Time) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	b, found := l.buckets[id]
	if !found && l.maxBuckets > 0 && len(l.buckets) >= l.maxBuckets {
		clear(l.buckets)
	}
	if !found {
		b = rate.NewLimiter(l.rps, l.burst)
		l.buckets[id] = b
	}
	l.mu.Unlock()
	r := b.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, time.Duration(math.Ceil(d.Seconds())) * time.Second
	}
	return true, 0
}
