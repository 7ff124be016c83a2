package bootstrap

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatcli/aiops/libs/redisx"
)

// redisProbeInterval is how often the probe pings Redis.
const redisProbeInterval = 5 * time.Second

// redisProbe publishes whether Redis answers as chatcli_<service>_redis_up
// and logs each change, on every replica. It is how a degraded service
// shows an outage without failing its readiness.
type redisProbe struct {
	redis *redisx.Client
	up    prometheus.Gauge
	log   logr.Logger
}

func newRedisProbe(service string, redis *redisx.Client, reg prometheus.Registerer, log logr.Logger) (*redisProbe, error) {
	up := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "chatcli_" + strings.ReplaceAll(service, "-", "_") + "_redis_up",
		Help: "1 while Redis answers a ping, 0 while it does not.",
	})
	if err := reg.Register(up); err != nil {
		return nil, fmt.Errorf("register Redis gauge: %w", err)
	}
	return &redisProbe{redis: redis, up: up, log: log}, nil
}

// NeedLeaderElection is false: every replica uses Redis.
func (p *redisProbe) NeedLeaderElection() bool { return false }

// Start pings until ctx ends.
func (p *redisProbe) Start(ctx context.Context) error {
	ticker := time.NewTicker(redisProbeInterval)
	defer ticker.Stop()
	known, wasUp := false, false
	for {
		pingCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := p.redis.Ping(pingCtx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		isUp := err == nil
		switch {
		case isUp && known && !wasUp:
			p.log.Info("Redis answers again")
		case !isUp && (!known || wasUp):
			p.log.Info("Redis does not answer", "error", err.Error())
		}
		known, wasUp = true, isUp
		if isUp {
			p.up.Set(1)
		} else {
			p.up.Set(0)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}
