package chart

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v3/pkg/action"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/testenv"
)

func helmConfig(t *testing.T, kubeconfig string) *action.Configuration {
	t.Helper()
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &kubeconfig
	ns := namespace
	flags.Namespace = &ns
	cfg := new(action.Configuration)
	if err := cfg.Init(flags, namespace, "secret", func(string, ...any) {}); err != nil {
		t.Fatalf("initialise helm: %v", err)
	}
	return cfg
}

// TestInstallUpgradeUninstall installs the chart with the Helm Go SDK into
// a real API server (no kubelet: Deployments are accepted, not run),
// upgrades it with changed values and uninstalls it. Every object must be
// accepted, the CRDs Established, the generated CA, certificates, token
// and Redis password kept by the upgrade, and with crds.keep the CRDs and
// the custom resources must outlive the release.
func TestInstallUpgradeUninstall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	env, err := testenv.Start(ctx, testenv.Options{WithoutRedis: true, WithoutCRDs: true})
	if err != nil {
		t.Fatalf("start testenv: %v", err)
	}
	defer env.Stop()
	kubeconfig, err := env.WriteKubeconfig()
	if err != nil {
		t.Fatal(err)
	}
	c := env.Client
	// The Instance namespace of rbac.instanceNamespaces must exist for
	// the watcher-bridge's Role there.
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apps"}}); err != nil {
		t.Fatal(err)
	}
	cfg := helmConfig(t, kubeconfig)
	chrt := loadChart(t)
	values := map[string]any{"rbac": map[string]any{"instanceNamespaces": []any{"apps"}}}

	install := action.NewInstall(cfg)
	install.ReleaseName = release
	install.Namespace = namespace
	install.CreateNamespace = true
	install.Timeout = 2 * time.Minute
	rel, err := install.RunWithContext(ctx, chrt, values)
	if err != nil {
		t.Fatalf("helm install: %v", err)
	}
	for _, obj := range objects(t, rel.Manifest) {
		got := obj.DeepCopy()
		if err := c.Get(ctx, client.ObjectKeyFromObject(obj), got); err != nil {
			t.Errorf("%s %s was not accepted: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
	waitCRDsEstablished(ctx, t, c)
	before := generatedSecrets(ctx, t, c)
	checkCertificates(t, before)
	checkWebhookCABundle(ctx, t, c, before[release+"-ca"]["tls.crt"])

	// A custom resource that must outlive the release.
	issue := &platformv1alpha1.Issue{
		ObjectMeta: metav1.ObjectMeta{Name: "survivor", Namespace: "apps"},
		Spec: platformv1alpha1.IssueSpec{
			Severity: platformv1alpha1.SeverityLow, Source: platformv1alpha1.SourceWatcher, SignalType: platformv1alpha1.SignalOOMKill,
			Resource: platformv1alpha1.ResourceReference{Kind: "Deployment", Name: "shop", Namespace: "apps"},
		},
	}
	if err := c.Create(ctx, issue); err != nil {
		t.Fatalf("create Issue: %v", err)
	}

	upgrade := action.NewUpgrade(cfg)
	upgrade.Namespace = namespace
	upgrade.ReuseValues = true
	upgrade.Timeout = 2 * time.Minute
	changed := map[string]any{
		"analyzer":         map[string]any{"replicas": 3},
		"webhook":          map[string]any{"failurePolicy": "Ignore"},
		"postmortemWriter": map[string]any{"enabled": false},
	}
	if _, err := upgrade.RunWithContext(ctx, release, chrt, changed); err != nil {
		t.Fatalf("helm upgrade: %v", err)
	}
	var analyzer appsv1.Deployment
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: release + "-analyzer"}, &analyzer); err != nil {
		t.Fatal(err)
	}
	if got := *analyzer.Spec.Replicas; got != 3 {
		t.Errorf("analyzer replicas after the upgrade: %d, want 3", got)
	}
	var webhook admissionregistrationv1.ValidatingWebhookConfiguration
	if err := c.Get(ctx, client.ObjectKey{Name: release + "-remediator"}, &webhook); err != nil {
		t.Fatal(err)
	}
	for _, w := range webhook.Webhooks {
		if *w.FailurePolicy != admissionregistrationv1.Ignore {
			t.Errorf("webhook %s failurePolicy %s after the upgrade, want Ignore", w.Name, *w.FailurePolicy)
		}
	}
	err = c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: release + "-postmortem-writer"}, &appsv1.Deployment{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("the disabled postmortem-writer's Deployment: %v, want NotFound", err)
	}
	after := generatedSecrets(ctx, t, c)
	delete(before, release+"-postmortem-writer-tls")
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("the upgrade changed generated secrets (-before +after):\n%s", diff)
	}

	uninstall := action.NewUninstall(cfg)
	uninstall.Timeout = 2 * time.Minute
	if _, err := uninstall.Run(release); err != nil {
		t.Fatalf("helm uninstall: %v", err)
	}
	crds, err := chartCRDs(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(crds) != 7 {
		t.Errorf("%d CRDs after uninstall with crds.keep, want 7", len(crds))
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(issue), &platformv1alpha1.Issue{}); err != nil {
		t.Errorf("the Issue did not survive the uninstall: %v", err)
	}
	for _, name := range []string{release + "-analyzer", release + "-remediator"} {
		if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
			t.Errorf("Deployment %s after uninstall: %v, want NotFound", name, err)
		}
	}

	// Installing the release again adopts the kept CRDs; without
	// crds.keep its uninstall takes them, and their resources, along.
	again := action.NewInstall(cfg)
	again.ReleaseName = release
	again.Namespace = namespace
	again.Timeout = 2 * time.Minute
	if _, err := again.RunWithContext(ctx, chrt, map[string]any{"crds": map[string]any{"enabled": true, "keep": false}}); err != nil {
		t.Fatalf("helm install over the kept CRDs: %v", err)
	}
	if _, err := uninstall.Run(release); err != nil {
		t.Fatalf("helm uninstall without crds.keep: %v", err)
	}
	// Helm deletes the CRDs: each is gone or terminating. That is the
	// chart's part (no keep policy on them); the rest is the API server's
	// CRD finalizer, which deletes every CR before it lets a CRD go, and
	// which once took over 2 minutes on a CI machine for no cause this
	// test can see, so it is waited for and reported, not failed on.
	err = waitForCRDs(ctx, c, 30*time.Second, func(crds []apiextensionsv1.CustomResourceDefinition) bool {
		return !slices.ContainsFunc(crds, func(crd apiextensionsv1.CustomResourceDefinition) bool { return crd.DeletionTimestamp == nil })
	})
	if err != nil {
		t.Fatalf("the uninstall without crds.keep did not delete every CRD: %v\n%s", err, describeCRDs(c))
	}
	err = waitForCRDs(ctx, c, 2*time.Minute, func(crds []apiextensionsv1.CustomResourceDefinition) bool { return len(crds) == 0 })
	if err != nil {
		t.Logf("the API server has not finished deleting the CRDs: %v\n%s", err, describeCRDs(c))
	}
}

// chartCRDs lists the chart's CRDs.
func chartCRDs(ctx context.Context, c client.Client) ([]apiextensionsv1.CustomResourceDefinition, error) {
	var crds apiextensionsv1.CustomResourceDefinitionList
	if err := c.List(ctx, &crds, client.MatchingLabels{"app.kubernetes.io/part-of": "chatcli-aiops"}); err != nil {
		return nil, err
	}
	return crds.Items, nil
}

// waitForCRDs polls the chart's CRDs until done says they are as wanted.
func waitForCRDs(ctx context.Context, c client.Client, timeout time.Duration, done func([]apiextensionsv1.CustomResourceDefinition) bool) error {
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		crds, err := chartCRDs(ctx, c)
		return err == nil && done(crds), err
	})
}

// describeCRDs says, for each of the chart's CRDs still there, what holds
// it: its deletion time, finalizers and Terminating condition, which the
// API server's CRD finalizer sets while it deletes the custom resources.
// It uses a fresh context: the test's may be the one that ran out.
func describeCRDs(c client.Client) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	crds, err := chartCRDs(ctx, c)
	if err != nil {
		return fmt.Sprintf("list the CRDs: %v", err)
	}
	var b strings.Builder
	for _, crd := range crds {
		fmt.Fprintf(&b, "%s: deletionTimestamp %v, finalizers %v", crd.Name, crd.DeletionTimestamp, crd.Finalizers)
		for _, cond := range crd.Status.Conditions {
			if cond.Type == apiextensionsv1.Terminating {
				fmt.Fprintf(&b, ", Terminating=%s %s: %s", cond.Status, cond.Reason, cond.Message)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

func waitCRDsEstablished(ctx context.Context, t *testing.T, c client.Client) {
	t.Helper()
	err := waitForCRDs(ctx, c, time.Minute, func(crds []apiextensionsv1.CustomResourceDefinition) bool {
		if len(crds) != 7 {
			return false
		}
		for _, crd := range crds {
			established := false
			for _, cond := range crd.Status.Conditions {
				established = established || (cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue)
			}
			if !established {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("the CRDs are not Established: %v", err)
	}
}

// generatedSecrets are the data of every Secret the chart generates, by
// name: the internal token, the CA, each service's certificate, Redis's.
func generatedSecrets(ctx context.Context, t *testing.T, c client.Client) map[string]map[string][]byte {
	t.Helper()
	var list corev1.SecretList
	if err := c.List(ctx, &list, client.InNamespace(namespace), client.MatchingLabels{"app.kubernetes.io/instance": release}); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string][]byte{}
	for _, s := range list.Items {
		out[s.Name] = maps.Clone(s.Data)
	}
	for _, name := range []string{"-internal-token", "-ca", "-redis", "-redis-url", "-analyzer-tls", "-remediator-tls"} {
		if _, ok := out[release+name]; !ok {
			t.Errorf("no Secret %s%s; have %v", release, name, keys(out))
		}
	}
	return out
}

func keys(m map[string]map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// checkCertificates: each service's certificate is signed by the CA and
// names its Services.
func checkCertificates(t *testing.T, secrets map[string]map[string][]byte) {
	t.Helper()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(secrets[release+"-ca"]["tls.crt"]) {
		t.Fatal("the CA Secret holds no certificate")
	}
	hosts := map[string]string{
		"analyzer":   release + "-analyzer." + namespace + ".svc",
		"correlator": release + "-correlator-api." + namespace + ".svc",
		"remediator": release + "-remediator-webhook." + namespace + ".svc",
	}
	for svc, host := range hosts {
		data := secrets[release+"-"+svc+"-tls"]
		block, _ := pem.Decode(data["tls.crt"])
		if block == nil {
			t.Errorf("%s: no certificate", svc)
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cert.Verify(x509.VerifyOptions{DNSName: host, Roots: roots}); err != nil {
			t.Errorf("%s's certificate for %s: %v", svc, host, err)
		}
		if string(data["ca.crt"]) != string(secrets[release+"-ca"]["tls.crt"]) {
			t.Errorf("%s's ca.crt is not the CA", svc)
		}
	}
}

func checkWebhookCABundle(ctx context.Context, t *testing.T, c client.Client, ca []byte) {
	t.Helper()
	var webhook admissionregistrationv1.ValidatingWebhookConfiguration
	if err := c.Get(ctx, client.ObjectKey{Name: release + "-remediator"}, &webhook); err != nil {
		t.Fatal(err)
	}
	if len(webhook.Webhooks) != 2 {
		t.Fatalf("%d webhooks, want 2 (RemediationPlans and Runbooks)", len(webhook.Webhooks))
	}
	for _, w := range webhook.Webhooks {
		if string(w.ClientConfig.CABundle) != string(ca) {
			t.Errorf("webhook %s: the caBundle is not the generated CA", w.Name)
		}
	}
}
