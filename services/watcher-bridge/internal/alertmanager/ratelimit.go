package alertmanager

import (
	"net"
	"net/http"
	"sync"

	"golang.org/x/time/rate"
)

// Defaults of the webhook's rate limits. Alertmanager sends one request
// per alert group and interval, so a few per second per sender is ample.
const (
	DefaultRateLimitRPS    = 10
	DefaultRateLimitBurst  = 50
	DefaultGlobalRateRPS   = 100
	DefaultGlobalRateBurst = 200
	// maxLimitedClients bounds the per-client buckets; past it the map is
	// started afresh, which costs the callers only their burst history.
	maxLimitedClients = 4096
)

// limiter is a token bucket per client IP behind a global one, checked
// before the token or the body, so a flood costs neither.
type limiter struct {
	rps    rate.Limit
	burst  int
	global *rate.Limiter

	mu      sync.Mutex
	clients map[string]*rate.Limiter
}

func newLimiter(rps float64, burst int, globalRPS float64, globalBurst int) *limiter {
	return &limiter{
		rps: rate.Limit(rps), burst: burst,
		global:  rate.NewLimiter(rate.Limit(globalRPS), globalBurst),
		clients: map[string]*rate.Limiter{},
	}
}

// allow reports whether r may be served now.
func (l *limiter) allow(r *http.Request) bool {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	l.mu.Lock()
	c, ok := l.clients[ip]
	if !ok {
		if len(l.clients) >= maxLimitedClients {
			l.clients = map[string]*rate.Limiter{}
		}
		c = rate.NewLimiter(l.rps, l.burst)
		l.clients[ip] = c
	}
	l.mu.Unlock()
	return c.Allow() && l.global.Allow()
}
