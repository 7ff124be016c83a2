package chatcli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/grpcx"
)

const (
	// DefaultInterval is the poll interval when neither the Instance nor
	// the Config sets one, the same as a ChatCLI server's watcher.
	DefaultInterval = 30 * time.Second

	// maxCallTimeout bounds one GetAlerts call; shorter intervals bound it
	// further, so a call never overlaps the next tick.
	maxCallTimeout = 10 * time.Second

	defaultPort     = 50051
	defaultTokenKey = "token"
	caKey           = "ca.crt"
)

// errTLSDisabled is why an Instance without TLS is never polled: the
// bearer token would cross the network in clear text.
var errTLSDisabled = errors.New("TLS is disabled on the Instance, and the platform never sends its token in clear text")

// target is everything a polling loop takes from its Instance. It is
// comparable: a running loop whose target differs from the Instance's
// current one is restarted, so a changed endpoint, interval, TLS Secret or
// token reference takes effect at once.
type target struct {
	key types.NamespacedName
	// uid tells a recreated Instance from the one it replaces.
	uid types.UID
	// endpoint is the gRPC target: status.endpoint, or the Service's DNS
	// name when the instance-operator has not published one.
	endpoint string
	// interval is spec.watcher.interval as written; parseInterval reads it.
	interval    string
	tls         bool
	tlsSecret   string
	tokenSecret string
	tokenKey    string
	// namespaces are the namespaces the Instance's alerts may be about:
	// its own and those of its watcher targets, sorted and joined by ","
	// (a string, so that target stays comparable).
	namespaces string
}

// inScope reports whether an alert about namespace may come from t's
// server. A server is one tenant's: it may not speak for another
// namespace, nor for cluster-scoped objects.
func (t target) inScope(namespace string) bool {
	return namespace != "" && slices.Contains(strings.Split(t.namespaces, ","), namespace)
}

// eligible reports whether inst is polled: its watcher is enabled, it is
// Ready, and it is not being deleted. TLS is checked later, by the loop,
// so that a refusal is logged and counted rather than silently ignored.
func eligible(inst *platformv1alpha1.Instance) bool {
	return inst.Spec.Watcher != nil && inst.Spec.Watcher.Enabled &&
		inst.DeletionTimestamp.IsZero() &&
		meta.IsStatusConditionTrue(inst.Status.Conditions, platformv1alpha1.InstanceReadyCondition)
}

// targetOf reads the polling target of inst.
func targetOf(inst *platformv1alpha1.Instance) target {
	t := target{
		key:      types.NamespacedName{Namespace: inst.Namespace, Name: inst.Name},
		uid:      inst.UID,
		endpoint: inst.Status.Endpoint,
	}
	if t.endpoint == "" {
		port := int(inst.Spec.Server.Port)
		if port == 0 {
			port = defaultPort
		}
		t.endpoint = "dns:///" + inst.Name + "." + inst.Namespace + ".svc.cluster.local:" + strconv.Itoa(port)
	}
	namespaces := []string{inst.Namespace}
	if inst.Spec.Watcher != nil {
		t.interval = inst.Spec.Watcher.Interval
		for _, wt := range inst.Spec.Watcher.Targets {
			namespaces = append(namespaces, wt.Namespace)
		}
	}
	slices.Sort(namespaces)
	t.namespaces = strings.Join(slices.Compact(namespaces), ",")
	if tls := inst.Spec.Server.TLS; tls != nil && tls.Enabled {
		t.tls, t.tlsSecret = true, tls.SecretName
	}
	if tok := inst.Spec.Server.Token; tok != nil {
		t.tokenSecret, t.tokenKey = tok.Name, tok.Key
		if t.tokenKey == "" {
			t.tokenKey = defaultTokenKey
		}
	}
	return t
}

// parseInterval reads a Go duration. Empty means def; a value that does not
// parse, or is not positive, also gives def, with the error to report.
func parseInterval(s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return def, fmt.Errorf("parse spec.watcher.interval %q: %w", s, err)
	}
	if d <= 0 {
		return def, fmt.Errorf("spec.watcher.interval %q is not positive", s)
	}
	return d, nil
}

// trusted reports whether the Instance of t may use s.
func trusted(s *corev1.Secret, t target) bool {
	if s.Labels[platformv1alpha1.LabelInstance] == t.key.Name {
		return true
	}
	for _, ref := range s.OwnerReferences {
		if ref.UID != "" && ref.UID == t.uid && ref.Kind == "Instance" {
			return true
		}
	}
	return false
}

// callTimeout is the deadline of one GetAlerts call.
func callTimeout(interval time.Duration) time.Duration {
	return min(interval, maxCallTimeout)
}

// dialConfig builds the client settings of t: the CA from ca.crt of its TLS
// Secret and the bearer token from its token Secret, both read through r
// (uncached, so no Secret informer is ever started). An Instance without
// TLS gets errTLSDisabled.
func dialConfig(ctx context.Context, r client.Reader, t target) (grpcx.ClientConfig, error) {
	if !t.tls {
		return grpcx.ClientConfig{}, errTLSDisabled
	}
	if t.tlsSecret == "" {
		return grpcx.ClientConfig{}, errors.New("spec.server.tls names no Secret")
	}
	ca, err := secretValue(ctx, r, t, t.tlsSecret, caKey)
	if err != nil {
		return grpcx.ClientConfig{}, fmt.Errorf("read the CA: %w", err)
	}
	cfg := grpcx.ClientConfig{CAPEM: ca}
	if t.tokenSecret == "" {
		return cfg, nil
	}
	token, err := secretValue(ctx, r, t, t.tokenSecret, t.tokenKey)
	if err != nil {
		return grpcx.ClientConfig{}, fmt.Errorf("read the token: %w", err)
	}
	// Secrets written with `echo` end in a newline that is not part of the
	// token.
	cfg.Token = strings.TrimSpace(string(token))
	if cfg.Token == "" {
		return grpcx.ClientConfig{}, fmt.Errorf("read the token: key %q of Secret %s/%s is blank", t.tokenKey, t.key.Namespace, t.tokenSecret)
	}
	return cfg, nil
}

// errSecretNotTrusted is why a Secret an Instance names is not read.
var errSecretNotTrusted = errors.New("the Secret is neither owned by the Instance nor labelled " + platformv1alpha1.LabelInstance + "=<instance>")

// secretValue returns one non-empty key of a Secret of t's namespace that
// t's Instance may use (see platformv1alpha1.LabelInstance). Errors name
// the Secret and key, never the value.
func secretValue(ctx context.Context, r client.Reader, t target, name, key string) ([]byte, error) {
	namespace := t.key.Namespace
	var s corev1.Secret
	if err := r.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &s); err != nil {
		return nil, fmt.Errorf("get Secret %s/%s: %w", namespace, name, err)
	}
	if !trusted(&s, t) {
		return nil, fmt.Errorf("refuse Secret %s/%s: %w", namespace, name, errSecretNotTrusted)
	}
	v := s.Data[key]
	if len(v) == 0 {
		return nil, fmt.Errorf("the Secret %s/%s has no key %q", namespace, name, key)
	}
	return v, nil
}
