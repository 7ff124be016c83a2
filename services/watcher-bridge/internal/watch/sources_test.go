package watch

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/services/watcher-bridge/internal/detect"
)

// TestTLSAndHelmSecretsBecomeAnomalies: in a namespace whose Secrets are
// granted, a TLS Secret whose certificate expires in three days is a
// certificate_expiring Anomaly about the Secret, and a Helm release whose
// latest revision failed is a helm_release_failed Anomaly about the
// release. A certificate far from its expiry, a deployed release, and an
// expiring certificate in a watched namespace whose Secrets are not
// granted raise nothing; the cache holds no key material.
func TestTLSAndHelmSecretsBecomeAnomalies(t *testing.T) {
	t.Parallel()
	g := NewWithT(t)
	ungranted := env.NewNamespace(t, "watch-nosecrets", nil)
	h := newHarnessWith(t, detect.DefaultConfig(), harnessOptions{sources: true, alsoWatched: []string{ungranted}})
	h.tlsSecret("shop-tls", time.Now().Add(72*time.Hour), nil)
	h.tlsSecret("fresh-tls", time.Now().Add(90*24*time.Hour), nil)
	h.in(ungranted).tlsSecret("hidden-tls", time.Now().Add(time.Hour), nil)
	h.helmRevision("shop", 1, "superseded")
	failed := h.helmRevision("shop", 2, "failed")
	h.helmRevision("ok", 1, "deployed")

	cert := h.eventuallyAnomalyOn(g, platformv1alpha1.SignalCertExpiring, "Secret", "shop-tls")
	g.Expect(cert.Spec.Resource).To(Equal(liveRef(t, "Secret", h.ns, "shop-tls")))
	g.Expect(cert.Spec.Severity).To(Equal(high))
	// 72h less the moments the test took, rounded either way.
	g.Expect(cert.Spec.Description).To(MatchRegexp(`^CertificateExpiring in Secret shop-tls: the certificate for shop\.example expires in 7[12]h`))

	helm := h.eventuallyAnomalyOn(g, platformv1alpha1.SignalHelmReleaseFailed, "HelmRelease", "shop")
	g.Expect(helm.Spec.Resource).To(Equal(platformv1alpha1.ResourceReference{Kind: "HelmRelease", Namespace: h.ns, Name: "shop", UID: failed.UID}))
	g.Expect(helm.Spec.Value).To(Equal("2"))

	g.Consistently(func() int { return len(h.anomalies()) }).WithTimeout(defaultQuiet).Should(Equal(2))
	g.Expect(h.in(ungranted).anomalies()).To(BeEmpty())
	informer, _ := h.detector.sourceInformerOf(kindSecret, ungranted)
	g.Expect(informer).To(BeNil(), "Secrets of a namespace that is not granted are never listed")

	informer, _ = h.detector.sourceInformerOf(kindSecret, h.ns)
	g.Expect(informer).NotTo(BeNil())
	for _, obj := range informer.GetStore().List() {
		g.Expect(obj).To(BeAssignableToTypeOf(&tlsSecretRecord{}), "the cache holds records, never Secrets with their data")
	}
}

// TestCertificatesAndApplicationsAreWatchedWhileServed: the cert-manager
// and Argo CD sources wait until their CRDs are served, then a Certificate
// not Ready past the grace is a certificate_expiring Anomaly about it (and
// its Secret is not reported twice), a Degraded Application an
// argocd_degraded and one OutOfSync past the grace a config_drift. When
// the CRD goes, its source stops. It installs cluster-wide CRDs, so it
// does not run in parallel.
func TestCertificatesAndApplicationsAreWatchedWhileServed(t *testing.T) {
	g := NewWithT(t)
	h := newHarnessWith(t, configWith(func(c *detect.Config) {
		c.CertificateGrace = time.Second
		c.ConfigDriftGrace = time.Second
	}), harnessOptions{sources: true})
	_, served := h.detector.sourceInformerOf(kindCertificate, h.ns)
	g.Expect(served).To(BeFalse(), "cert-manager is not installed")

	certificates := installCRD(t, "cert-manager.io", "Certificate", "certificates", "v1")
	applications := installCRD(t, "argoproj.io", "Application", "applications", "v1alpha1")
	g.Eventually(func() bool {
		c, _ := h.detector.sourceInformerOf(kindCertificate, h.ns)
		a, _ := h.detector.sourceInformerOf(kindApplication, h.ns)
		return c != nil && a != nil
	}).WithTimeout(20 * time.Second).Should(BeTrue())

	h.customResource("cert-manager.io/v1", "Certificate", "shop", map[string]any{
		"conditions": []any{map[string]any{
			"type": "Ready", "status": "False", "reason": "Failed", "message": "the ACME order failed",
			"lastTransitionTime": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339),
		}},
	})
	h.tlsSecret("shop-tls", time.Now().Add(time.Hour), map[string]string{annCertManagerCertificate: "shop"})
	h.customResource("argoproj.io/v1alpha1", "Application", "broken", map[string]any{
		"health": map[string]any{"status": "Degraded", "message": "Deployment broken has timed out progressing"},
		"sync":   map[string]any{"status": "Synced"},
	})
	h.customResource("argoproj.io/v1alpha1", "Application", "drifted", map[string]any{
		"health": map[string]any{"status": "Healthy"},
		"sync":   map[string]any{"status": "OutOfSync", "revision": "4f1c2e9"},
	})

	cert := h.eventuallyAnomalyOn(g, platformv1alpha1.SignalCertExpiring, "Certificate", "shop")
	g.Expect(cert.Spec.Resource).To(Equal(liveCustomRef(t, "cert-manager.io/v1", "Certificate", h.ns, "shop")))
	g.Expect(cert.Spec.Description).To(ContainSubstring("CertificateNotRenewed shop: not Ready for 1h (Failed: the ACME order failed)"))
	degraded := h.eventuallyAnomalyOn(g, platformv1alpha1.SignalArgoCDDegraded, "Application", "broken")
	g.Expect(degraded.Spec.Resource).To(Equal(liveCustomRef(t, "argoproj.io/v1alpha1", "Application", h.ns, "broken")))
	drift := h.eventuallyAnomalyOn(g, platformv1alpha1.SignalConfigDrift, "Application", "drifted")
	g.Expect(drift.Spec.Description).To(ContainSubstring("live state differs from Git at revision 4f1c2e9"))
	g.Consistently(func() int { return len(h.anomalies()) }).WithTimeout(defaultQuiet).Should(Equal(3),
		"the Secret of a watched Certificate is the Certificate's to report")

	g.Expect(env.Client.Delete(context.Background(), certificates)).To(Succeed())
	g.Eventually(func() bool {
		c, served := h.detector.sourceInformerOf(kindCertificate, h.ns)
		return c == nil && !served
	}).WithTimeout(30*time.Second).Should(BeTrue(), "the source stops when its CRD goes")
	a, _ := h.detector.sourceInformerOf(kindApplication, h.ns)
	g.Expect(a).NotTo(BeNil(), "the other source runs on")
	g.Expect(env.Client.Delete(context.Background(), applications)).To(Succeed())
}

// tlsSecret creates a kubernetes.io/tls Secret whose certificate, for
// shop.example, expires at notAfter.
func (h *harness) tlsSecret(name string, notAfter time.Time, annotations map[string]string) *corev1.Secret {
	h.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		h.t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "shop"},
		DNSNames: []string{"shop.example"}, NotBefore: notAfter.Add(-90 * 24 * time.Hour), NotAfter: notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		h.t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		h.t.Fatal(err)
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations},
		Type:       corev1.SecretTypeTLS,
		Data: map[string][]byte{
			corev1.TLSCertKey:       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			corev1.TLSPrivateKeyKey: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		},
	}
	h.create(s)
	return s
}

// helmRevision creates the Secret Helm's storage driver writes for one
// revision of a release.
func (h *harness) helmRevision(release string, version int, status string) *corev1.Secret {
	h.t.Helper()
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:   "sh.helm.release.v1." + release + ".v" + strconv.Itoa(version),
			Labels: map[string]string{"owner": "helm", "name": release, "status": status, "version": strconv.Itoa(version)},
		},
		Type: "helm.sh/release.v1",
		Data: map[string][]byte{"release": []byte("H4sIAAAAAAAA/wEAAP//AAAAAAAAAAA=")},
	}
	h.create(s)
	return s
}

// customResource creates an object of an installed CRD and writes its
// status, as its controller would.
func (h *harness) customResource(apiVersion, kind, name string, status map[string]any) {
	h.t.Helper()
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind, "spec": map[string]any{}}}
	u.SetName(name)
	h.create(u)
	u.Object["status"] = status
	h.setStatus(u, func() {})
}

// installCRD installs a minimal namespaced CRD of one version with a
// status subresource and waits until it is served.
func installCRD(t *testing.T, group, kind, plural, version string) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: plural + "." + group},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: group, Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Kind: kind, ListKind: kind + "List", Plural: plural, Singular: plural[:len(plural)-1]},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: version, Served: true, Storage: true,
				Subresources: &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{}},
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: ptrTo(true),
				}},
			}},
		},
	}
	ctx := context.Background()
	if err := env.Client.Create(ctx, crd); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	NewWithT(t).Eventually(func() error {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(schema.GroupVersionKind{Group: group, Version: version, Kind: kind + "List"})
		return env.Client.List(ctx, list, client.Limit(1))
	}).WithTimeout(30 * time.Second).Should(Succeed())
	return crd
}

// liveCustomRef is the reference of an object of an installed CRD, with
// its uid.
func liveCustomRef(t *testing.T, apiVersion, kind, namespace, name string) platformv1alpha1.ResourceReference {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, u); err != nil {
		t.Fatalf("get %s %s/%s: %v", kind, namespace, name, err)
	}
	return platformv1alpha1.ResourceReference{Kind: kind, Namespace: namespace, Name: name, UID: u.GetUID()}
}

func ptrTo[T any](v T) *T { return &v }
