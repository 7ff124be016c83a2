package chatcli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"google.golang.org/grpc"

	"github.com/chatcli/aiops/libs/signals"
	chatcliv1 "github.com/chatcli/aiops/proto/chatcli/v1"
)

// reconnectAfter is how many GetAlerts failures in a row make a loop drop
// its connection and dial again, re-reading the CA and token Secrets, so a
// rotated token or CA is picked up.
const reconnectAfter = 3

// maxAlertsPerPoll bounds what one poll ingests, so a server that answers
// with a flood cannot fill etcd; the rest waits for the next poll.
const maxAlertsPerPoll = 500

// LabelInstance is the signal label naming the Instance (namespace/name)
// whose server reported the alert, for the people who read the Anomaly.
const LabelInstance = "instance"

// loop polls one Instance. Only its own goroutine touches it.
type loop struct {
	p        *Poller
	t        target
	log      logr.Logger
	label    string
	interval time.Duration

	conn   *grpc.ClientConn
	client chatcliv1.ChatCLIServiceClient
	// failures counts GetAlerts failures in a row on conn.
	failures int
	// problem is the last error reported, so a lasting failure is logged
	// once at error level and then only at V(1).
	problem string
	// unmapped is how many alerts the last poll skipped, logged the same way.
	unmapped int
}

// run polls at once, then every interval, until ctx ends.
func (l *loop) run(ctx context.Context) {
	defer l.disconnect()
	interval, err := parseInterval(l.t.interval, l.p.cfg.DefaultInterval)
	if err != nil {
		l.log.Error(err, "Used the default poll interval instead", "interval", interval)
	}
	l.interval = interval
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		result, err := l.poll(ctx)
		if ctx.Err() != nil {
			return // stopped mid-poll: nothing to count
		}
		l.p.metrics.polls.WithLabelValues(l.label, result).Inc()
		l.report(result, err)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// report logs a new problem at error level, the same problem again at V(1),
// and the first success after a problem.
func (l *loop) report(result string, err error) {
	if err == nil {
		if l.problem != "" {
			l.log.Info("Resumed polling Instance")
			l.problem = ""
		}
		return
	}
	msg := "Failed to poll Instance"
	if result == ResultRefused {
		msg = "Refused to poll Instance"
	}
	if err.Error() == l.problem {
		l.log.V(1).Info(msg, "result", result, "error", err.Error())
		return
	}
	l.problem = err.Error()
	l.log.Error(err, msg, "result", result, "endpoint", l.t.endpoint)
}

// poll makes one GetAlerts call and hands the signals to the Sink. It
// returns the result label and the error, if any.
func (l *loop) poll(ctx context.Context) (string, error) {
	if l.conn == nil {
		if err := l.connect(ctx); err != nil {
			if errors.Is(err, errTLSDisabled) {
				return ResultRefused, err
			}
			return ResultConfigError, err
		}
	}
	callCtx, cancel := context.WithTimeout(ctx, callTimeout(l.interval))
	begin := time.Now()
	resp, err := l.client.GetAlerts(callCtx, &chatcliv1.GetAlertsRequest{})
	cancel()
	l.p.metrics.seconds.WithLabelValues(l.label).Observe(time.Since(begin).Seconds())
	if err != nil {
		l.failures++
		if l.failures >= reconnectAfter {
			l.disconnect()
		}
		return ResultRPCError, fmt.Errorf("call GetAlerts on %s: %w", l.t.endpoint, err)
	}
	l.failures = 0

	batch, unmapped := l.mapAlerts(resp.GetAlerts())
	if len(batch) == 0 {
		return ResultOK, nil
	}
	results, err := l.p.cfg.Sink.Ingest(ctx, batch)
	if err != nil {
		return ResultSinkError, fmt.Errorf("ingest %d signals: %w", len(batch), err)
	}
	for i, r := range results {
		if r.Status == signals.IngestRejected && i < len(batch) {
			l.log.V(1).Info("Sink rejected signal", "type", batch[i].Type, "resource", batch[i].Resource.String(), "reason", r.Reason)
		}
	}
	l.log.V(1).Info("Polled Instance", "alerts", len(batch)+unmapped, "signals", len(batch))
	return ResultOK, nil
}

// mapAlerts converts the alerts it can and counts and logs the others.
func (l *loop) mapAlerts(alerts []*chatcliv1.WatcherAlert) ([]signals.Signal, int) {
	now := l.p.now()
	l.p.metrics.alerts.WithLabelValues(l.label).Add(float64(len(alerts)))
	if over := len(alerts) - maxAlertsPerPoll; over > 0 {
		l.p.metrics.dropped.WithLabelValues(l.label, DropTooMany).Add(float64(over))
		l.log.V(1).Info("Dropped the alerts past the per-poll cap", "cap", maxAlertsPerPoll, "dropped", over)
		alerts = alerts[:maxAlertsPerPoll]
	}
	batch := make([]signals.Signal, 0, len(alerts))
	var skipped []error
	outOfScope := 0
	for _, a := range alerts {
		s, err := MapAlert(alertFromProto(a), now)
		if err != nil {
			skipped = append(skipped, err)
			continue
		}
		if !l.t.inScope(s.Resource.Namespace) {
			outOfScope++
			continue
		}
		s.Labels[LabelInstance] = l.label
		batch = append(batch, s)
	}
	if outOfScope > 0 {
		l.p.metrics.dropped.WithLabelValues(l.label, DropOutOfScope).Add(float64(outOfScope))
		l.log.V(1).Info("Dropped alerts about namespaces the Instance does not watch", "count", outOfScope)
	}
	l.p.metrics.unmapped.WithLabelValues(l.label).Add(float64(len(skipped)))
	if len(skipped) > 0 {
		// A server repeats its alerts on every poll; log when the number
		// of bad ones changes, not on every tick.
		log := l.log.V(1)
		if len(skipped) != l.unmapped {
			log = l.log
		}
		log.Info("Skipped alerts that map to no signal", "count", len(skipped), "first", skipped[0].Error())
	}
	l.unmapped = len(skipped)
	return batch, len(skipped)
}

// connect reads the Instance's Secrets and builds a client. The Secrets are
// read through the uncached APIReader, once per connection.
func (l *loop) connect(ctx context.Context) error {
	readCtx, cancel := context.WithTimeout(ctx, callTimeout(l.interval))
	defer cancel()
	cfg, err := dialConfig(readCtx, l.p.cfg.APIReader, l.t)
	if err != nil {
		return err
	}
	conn, err := l.p.cfg.Dial(l.t.endpoint, cfg)
	if err != nil {
		return err
	}
	l.conn, l.client, l.failures = conn, chatcliv1.NewChatCLIServiceClient(conn), 0
	return nil
}

func (l *loop) disconnect() {
	if l.conn == nil {
		return
	}
	_ = l.conn.Close()
	l.conn, l.client = nil, nil
}

// alertFromProto converts the wire message to the Alert MapAlert reads.
func alertFromProto(a *chatcliv1.WatcherAlert) Alert {
	return Alert{
		Type:          a.GetType(),
		Severity:      a.GetSeverity(),
		Message:       a.GetMessage(),
		Object:        a.GetObject(),
		Namespace:     a.GetNamespace(),
		Deployment:    a.GetDeployment(),
		TimestampUnix: a.GetTimestampUnix(),
	}
}
