// Package chatcliserver lets an Instance's ChatCLI server analyse the
// incidents of its namespace: when the Instance the correlator picked for
// an incident (the first Ready Instance of the namespace, by name) sets
// spec.aiops.analysisMode to server, the analysis goes to that server's
// chatcli.v1 AnalyzeIssue instead of to the provider, as the seed's
// operator does. The server is an llm.Provider like the others, so the
// request is the same scrubbed data, and its answer takes the same strict
// parse, repair request, action checks and fallback chain.
//
// The connection is TLS 1.3 only, trusting the ca.crt of the Instance's
// TLS Secret, with the Instance's server token as a bearer token; both
// Secrets are read only when the Instance owns them or they carry the
// label platform.chatcli.io/instance=<instance> (the rule the
// watcher-bridge applies when it polls the same servers).
package chatcliserver

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/llm"
	chatcliv1 "github.com/chatcli/aiops/proto/chatcli/v1"
)

// MetricsLabel is the provider label of the servers' calls in the
// chatcli_llm_* metrics.
const MetricsLabel = "CHATCLI_SERVER"

const (
	defaultPort     = 50051
	defaultTokenKey = "token"
	caKey           = "ca.crt"
)

// Router finds the ChatCLI server that analyses a namespace's incidents.
type Router struct {
	// Instances lists Instances (the manager's cache).
	Instances client.Reader
	// Secrets reads the TLS and token Secrets one at a time (the API
	// reader: Secrets are never cached).
	Secrets client.Reader
	// Policy wraps each server with retries and a breaker, as a provider.
	Policy llm.Policy
	// DialOptions are added to every connection (tests: none needed).
	DialOptions []grpc.DialOption

	mu    sync.Mutex
	conns map[types.NamespacedName]*route
}

// route is one Instance's open connection and the settings it was made
// with; other settings (a new endpoint, CA, token or a recreated
// Instance) make a new one.
type route struct {
	settings string
	conn     *grpc.ClientConn
	provider llm.Provider
}

// AnalysisInstance is the Instance the correlator picks for the incidents
// of a namespace: the first Ready one (by name) that names a provider,
// which becomes the AIInsight's spec.provider and spec.model. nil when
// there is none.
func AnalysisInstance(items []platformv1alpha1.Instance) *platformv1alpha1.Instance {
	sorted := slices.Clone(items)
	slices.SortFunc(sorted, func(a, b platformv1alpha1.Instance) int { return strings.Compare(a.Name, b.Name) })
	for i := range sorted {
		if meta.IsStatusConditionTrue(sorted[i].Status.Conditions, platformv1alpha1.InstanceReadyCondition) && sorted[i].Spec.Provider != "" {
			return &sorted[i]
		}
	}
	return nil
}

// Provider returns the server that analyses for namespace when the
// request names provider, with the name of its Instance; nil and "" when
// the namespace's analysis Instance does not analyse through its server,
// or configures another provider than the one asked for. An error means
// the Instance asks for its server and the server cannot be used: that is
// a failure of the server, not a reason to call the provider behind its
// back. Errors do not name the Instance: it is returned beside them.
func (r *Router) Provider(ctx context.Context, namespace string, provider platformv1alpha1.Provider) (llm.Provider, string, error) {
	if namespace == "" || provider == "" || provider == platformv1alpha1.ProviderBuiltin {
		return nil, "", nil
	}
	list := &platformv1alpha1.InstanceList{}
	if err := r.Instances.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return nil, "", fmt.Errorf("list the Instances of %s: %w", namespace, err)
	}
	inst := AnalysisInstance(list.Items)
	if inst == nil || inst.Spec.Provider != provider || inst.Spec.AIOps == nil || inst.Spec.AIOps.AnalysisMode != platformv1alpha1.AnalysisModeServer {
		return nil, "", nil
	}
	p, err := r.connect(ctx, inst)
	if err != nil {
		return nil, inst.Name, err
	}
	return p, inst.Name, nil
}

// Close closes every connection.
func (r *Router) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, rt := range r.conns {
		_ = rt.conn.Close()
		delete(r.conns, k)
	}
}

// Endpoint is the gRPC target of inst's server: status.endpoint as the
// instance-operator publishes it, else the Service's DNS name.
func Endpoint(inst *platformv1alpha1.Instance) string {
	if inst.Status.Endpoint != "" {
		return inst.Status.Endpoint
	}
	port := int(inst.Spec.Server.Port)
	if port == 0 {
		port = defaultPort
	}
	return "dns:///" + inst.Name + "." + inst.Namespace + ".svc.cluster.local:" + strconv.Itoa(port)
}

// errTLSDisabled is why a server without TLS is never called (the CRD
// refuses analysisMode server without TLS; this holds for objects written
// before that rule).
var errTLSDisabled = errors.New("TLS is disabled on the Instance, and the analyzer never sends incident data or the server token in clear text")

func (r *Router) connect(ctx context.Context, inst *platformv1alpha1.Instance) (llm.Provider, error) {
	tls := inst.Spec.Server.TLS
	if tls == nil || !tls.Enabled {
		return nil, errTLSDisabled
	}
	if tls.SecretName == "" {
		return nil, errors.New("spec.server.tls names no Secret")
	}
	ca, err := r.secretValue(ctx, inst, tls.SecretName, caKey)
	if err != nil {
		return nil, fmt.Errorf("read the CA: %w", err)
	}
	cfg := grpcx.ClientConfig{CAPEM: ca, Options: r.DialOptions}
	if tok := inst.Spec.Server.Token; tok != nil && tok.Name != "" {
		key := tok.Key
		if key == "" {
			key = defaultTokenKey
		}
		raw, err := r.secretValue(ctx, inst, tok.Name, key)
		if err != nil {
			return nil, fmt.Errorf("read the token: %w", err)
		}
		// Secrets written with `echo` end in a newline that is not part of
		// the token.
		if cfg.Token = strings.TrimSpace(string(raw)); cfg.Token == "" {
			return nil, fmt.Errorf("read the token: key %q of Secret %s/%s is blank", key, inst.Namespace, tok.Name)
		}
	}
	target := Endpoint(inst)
	// The settings' digest: the token and CA themselves are never kept
	// outside the connection.
	sum := sha256.Sum256([]byte(string(inst.UID) + "\x00" + target + "\x00" + string(ca) + "\x00" + cfg.Token))
	settings := string(sum[:])

	key := types.NamespacedName{Namespace: inst.Namespace, Name: inst.Name}
	r.mu.Lock()
	defer r.mu.Unlock()
	if rt, ok := r.conns[key]; ok {
		if rt.settings == settings {
			return rt.provider, nil
		}
		_ = rt.conn.Close()
		delete(r.conns, key)
	}
	conn, err := grpcx.Dial(target, cfg)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", target, err)
	}
	policy := r.Policy
	policy.MetricsLabel = MetricsLabel
	p := llm.NewResilient(&server{provider: inst.Spec.Provider, instance: key, client: chatcliv1.NewChatCLIServiceClient(conn)}, policy)
	if r.conns == nil {
		r.conns = map[types.NamespacedName]*route{}
	}
	r.conns[key] = &route{settings: settings, conn: conn, provider: p}
	return p, nil
}

// errSecretNotTrusted is why a Secret an Instance names is not read.
var errSecretNotTrusted = errors.New("the Secret is neither owned by the Instance nor labelled " + platformv1alpha1.LabelInstance + "=<instance>")

// secretValue returns one non-empty key of a Secret of inst's namespace
// that inst may use. Errors name the Secret and the key, never the value.
func (r *Router) secretValue(ctx context.Context, inst *platformv1alpha1.Instance, name, key string) ([]byte, error) {
	s := &corev1.Secret{}
	if err := r.Secrets.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: name}, s); err != nil {
		return nil, fmt.Errorf("get Secret %s/%s: %w", inst.Namespace, name, err)
	}
	if !trusted(s, inst) {
		return nil, fmt.Errorf("refuse Secret %s/%s: %w", inst.Namespace, name, errSecretNotTrusted)
	}
	v := s.Data[key]
	if len(v) == 0 {
		return nil, fmt.Errorf("the Secret %s/%s has no key %q", inst.Namespace, name, key)
	}
	return v, nil
}

// trusted reports whether inst may use s: it owns s, or s is labelled for
// it. Otherwise anyone who may create an Instance could make the analyzer
// read any Secret of the namespace and send it to a server of their
// choosing.
func trusted(s *corev1.Secret, inst *platformv1alpha1.Instance) bool {
	if s.Labels[platformv1alpha1.LabelInstance] == inst.Name {
		return true
	}
	for _, ref := range s.OwnerReferences {
		if ref.UID != "" && ref.UID == inst.UID && ref.Kind == "Instance" {
			return true
		}
	}
	return false
}
