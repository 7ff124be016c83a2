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

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// Placeholder namespaces of the generated RBAC (see hack/rbac.sh): the
// chart replaces them, and so does ServiceIdentity.
const (
	rbacPlatformNamespace  = "platform"
	rbacInstancesNamespace = "instances"
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

	env      *Environment
	service  string
	rules    []rbacv1.PolicyRule
	suffix   string
	instance []rbacv1.PolicyRule
}

// AsService grants the generated role of service to a ServiceAccount in
// platformNamespace and returns its identity. Rules for the "instances"
// namespace are granted in each of instanceNamespaces, and later with
// GrantInstanceNamespace.
func (e *Environment) AsService(t testing.TB, service, platformNamespace string, instanceNamespaces ...string) *ServiceIdentity {
	t.Helper()
	ctx := context.Background()
	id := &ServiceIdentity{Namespace: platformNamespace, Name: "chatcli-" + service, env: e, service: service, suffix: strings.ToLower(rand.Text()[:6])}
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
		case doc.Kind == "Role" && doc.Metadata.Namespace == rbacPlatformNamespace:
			e.grantRole(t, ctx, platformNamespace, name, doc.Rules, subject)
		case doc.Kind == "Role" && doc.Metadata.Namespace == rbacInstancesNamespace:
			id.instance = doc.Rules
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

// WriteKubeconfig writes a kubeconfig that impersonates the ServiceAccount,
// for a service process started by a test.
func (id *ServiceIdentity) WriteKubeconfig() (string, error) {
	return writeKubeconfig(id.Config, filepath.Join(id.env.dir, id.Namespace+"-"+id.Name+"-"+id.suffix+".kubeconfig"))
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
