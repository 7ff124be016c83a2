package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// Placeholder namespaces of the generated RBAC (see hack/rbac.sh): the
// chart replaces them, and so does ServiceIdentity.
const (
	rbacPlatformNamespace      = "platform"
	rbacInstancesNamespace     = "instances"
	rbacSecretSignalsNamespace = "secret-signals"
)

// ServiceIdentity acts as a service's ServiceAccount under exactly the role
// its +kubebuilder:rbac markers generate, so that a test fails when a
// permission is missing.
type ServiceIdentity struct {
	// Namespace and Name of the ServiceAccount (chatcli-<service>), which
	// is also the platform namespace the service's Lease lives in.
	Namespace, Name string
	// Config impersonates the ServiceAccount.
	Config *rest.Config
	// Client acts as the ServiceAccount.
	Client client.Client

	env    *Environment
	suffix string
	// instance are the rules for namespaces that hold an Instance.
	instance []rbacv1.PolicyRule
	// secretSignals are the rules for namespaces whose Secrets the
	// watcher-bridge may list.
	secretSignals []rbacv1.PolicyRule
}

// AsService grants the generated role of service to a ServiceAccount in
// platformNamespace and returns its identity. Rules for the "instances"
// namespace are granted in each of instanceNamespaces, and later with
// GrantInstanceNamespace.
func (e *Environment) AsService(t testing.TB, service, platformNamespace string, instanceNamespaces ...string) *ServiceIdentity {
	t.Helper()
	ctx := context.Background()
	id := &ServiceIdentity{Namespace: platformNamespace, Name: "chatcli-" + service, env: e, suffix: strings.ToLower(rand.Text()[:6])}
	docs, err := readGeneratedRBAC(service)
	if err != nil {
		t.Fatal(err)
	}
	subject := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: id.Namespace, Name: id.Name}
	name := id.Name + "-" + id.suffix
	for _, doc := range docs {
		switch {
		case doc.Kind == "ClusterRole":
			role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: doc.Rules}
			binding := &rbacv1.ClusterRoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
				Subjects:   []rbacv1.Subject{subject},
			}
			e.createAll(t, ctx, role, binding)
			e.waitAllowed(t, ctx, subject, "", doc.Rules)
		case doc.Kind == "Role" && doc.Metadata.Namespace == rbacPlatformNamespace:
			e.grantRole(t, ctx, platformNamespace, name, doc.Rules, subject)
		case doc.Kind == "Role" && doc.Metadata.Namespace == rbacInstancesNamespace:
			id.instance = doc.Rules
		case doc.Kind == "Role" && doc.Metadata.Namespace == rbacSecretSignalsNamespace:
			id.secretSignals = doc.Rules
		default:
			t.Fatalf("generated RBAC of %s: unexpected %s in namespace %q", service, doc.Kind, doc.Metadata.Namespace)
		}
	}
	for _, ns := range instanceNamespaces {
		id.GrantInstanceNamespace(t, ns)
	}
	id.Config = e.ConfigFor(id.Namespace, id.Name)
	if id.Client, err = client.New(id.Config, client.Options{Scheme: e.Scheme}); err != nil {
		t.Fatal(err)
	}
	return id
}

// GrantInstanceNamespace grants the service's rules for namespaces that
// hold an Instance (the watcher-bridge reads Instance Secrets there).
func (id *ServiceIdentity) GrantInstanceNamespace(t testing.TB, namespace string) {
	t.Helper()
	if len(id.instance) == 0 {
		return
	}
	subject := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: id.Namespace, Name: id.Name}
	id.env.grantRole(t, context.Background(), namespace, id.Name+"-"+id.suffix, id.instance, subject)
}

// GrantSecretSignalNamespace grants the service's rules for namespaces
// whose Secrets it may list (the chart's rbac.secretSignalNamespaces).
func (id *ServiceIdentity) GrantSecretSignalNamespace(t testing.TB, namespace string) {
	t.Helper()
	if len(id.secretSignals) == 0 {
		t.Fatalf("the generated RBAC of %s has no rules for secret-signal namespaces", id.Name)
	}
	subject := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: id.Namespace, Name: id.Name}
	id.env.grantRole(t, context.Background(), namespace, id.Name+"-"+id.suffix+"-secrets", id.secretSignals, subject)
}

// WriteKubeconfig writes a kubeconfig that impersonates the ServiceAccount,
// for a service process started by a test.
func (id *ServiceIdentity) WriteKubeconfig() (string, error) {
	return writeKubeconfig(id.Config, filepath.Join(id.env.dir, id.Namespace+"-"+id.Name+"-"+id.suffix+".kubeconfig"))
}

// WriteKubeconfigVia is WriteKubeconfig with the API server reached at
// host (https://127.0.0.1:<port>), such as a proxy a test can cut. The
// serving certificate is valid for 127.0.0.1, so TLS still verifies.
func (id *ServiceIdentity) WriteKubeconfigVia(host string) (string, error) {
	cfg := rest.CopyConfig(id.Config)
	cfg.Host = host
	return writeKubeconfig(cfg, filepath.Join(id.env.dir, id.Namespace+"-"+id.Name+"-"+id.suffix+"-via.kubeconfig"))
}

// APIServerAddr is the host:port of the API server, for a test proxy.
func (e *Environment) APIServerAddr() string {
	return strings.TrimPrefix(e.Config.Host, "https://")
}

func (e *Environment) grantRole(t testing.TB, ctx context.Context, namespace, name string, rules []rbacv1.PolicyRule, subject rbacv1.Subject) {
	t.Helper()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Rules: rules}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{subject},
	}
	e.createAll(t, ctx, role, binding)
	e.waitAllowed(t, ctx, subject, namespace, rules)
}

// waitAllowed waits until the authorizer, which learns of new bindings
// through its informers, allows the subject the first rule: otherwise the
// first request of a test could be Forbidden.
func (e *Environment) waitAllowed(t testing.TB, ctx context.Context, subject rbacv1.Subject, namespace string, rules []rbacv1.PolicyRule) {
	t.Helper()
	if len(rules) == 0 || len(rules[0].Verbs) == 0 || len(rules[0].Resources) == 0 {
		return
	}
	rule := rules[0]
	group := ""
	if len(rule.APIGroups) > 0 {
		group = rule.APIGroups[0]
	}
	// A rule limited to named objects allows only those.
	name := ""
	if len(rule.ResourceNames) > 0 {
		name = rule.ResourceNames[0]
	}
	user := "system:serviceaccount:" + subject.Namespace + ":" + subject.Name
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   user,
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + subject.Namespace, "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: namespace, Verb: rule.Verbs[0], Group: group, Resource: rule.Resources[0], Name: name,
			},
		}}
		if err := e.Client.Create(ctx, review); err != nil {
			return false, err
		}
		return review.Status.Allowed, nil
	})
	if err != nil {
		t.Fatalf("RBAC for %s never took effect: %v", user, err)
	}
}

// grantMetricsReader lets MetricsReaderUser get /metrics, the rule the
// chart gives Prometheus, and waits until the authorizer knows it.
func (e *Environment) grantMetricsReader(ctx context.Context) error {
	name := "testenv-metrics-reader"
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules:      []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}},
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: MetricsReaderUser}},
	}
	for _, obj := range []client.Object{role, binding} {
		if err := e.Client.Create(ctx, obj); err != nil {
			return fmt.Errorf("create %T %s: %w", obj, name, err)
		}
	}
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:                  MetricsReaderUser,
			NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/metrics", Verb: "get"},
		}}
		if err := e.Client.Create(ctx, review); err != nil {
			return false, err
		}
		return review.Status.Allowed, nil
	})
	if err != nil {
		return fmt.Errorf("RBAC for %s never took effect: %w", MetricsReaderUser, err)
	}
	return nil
}

func (e *Environment) createAll(t testing.TB, ctx context.Context, objs ...client.Object) {
	t.Helper()
	for _, obj := range objs {
		if err := e.Client.Create(ctx, obj); err != nil {
			t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
		}
	}
}

// rbacDoc is the part of a generated ClusterRole or Role that matters.
type rbacDoc struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Rules []rbacv1.PolicyRule `json:"rules"`
}

// readGeneratedRBAC reads charts/chatcli-aiops/files/rbac/<service>.yaml,
// found from this source file, since tests always run from the source tree.
func readGeneratedRBAC(service string) ([]rbacDoc, error) {
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return nil, fmt.Errorf("locate the source tree")
	}
	path := filepath.Join(filepath.Dir(self), "..", "..", "charts", "chatcli-aiops", "files", "rbac", service+".yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the generated RBAC of %s (run make generate): %w", service, err)
	}
	var docs []rbacDoc
	for _, raw := range bytes.Split(data, []byte("\n---")) {
		raw = bytes.TrimPrefix(bytes.TrimSpace(raw), []byte("---"))
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		var doc rbacDoc
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			return nil, fmt.Errorf("parse %s: %w", path, err)
		}
		docs = append(docs, doc)
	}
	return docs, nil
}
