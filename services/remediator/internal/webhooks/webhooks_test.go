package webhooks

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/testenv"
	"github.com/chatcli/aiops/services/remediator/internal/audit"
)

var env *testenv.Environment

func TestMain(m *testing.M) { testenv.Run(m, &env, testenv.Options{WithoutRedis: true}) }

// lockedBuffer collects audit lines written by the handlers while the
// test reads them.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) events() []audit.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []audit.Event
	for _, line := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		var e audit.Event
		if json.Unmarshal([]byte(line), &e) == nil {
			out = append(out, e)
		}
	}
	return out
}

// webhookRules are the rules the chart's ValidatingWebhookConfiguration
// carries: the main resources only (a status write never reaches the
// webhook), plans on create, update and delete, Runbooks on create and
// update.
func webhookRules(url string, caBundle []byte) []admissionregistrationv1.ValidatingWebhook {
	hook := func(name, path, resource string, ops ...admissionregistrationv1.OperationType) admissionregistrationv1.ValidatingWebhook {
		return admissionregistrationv1.ValidatingWebhook{
			Name:                    name,
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: ptr.To(url + path), CABundle: caBundle},
			AdmissionReviewVersions: []string{"v1"},
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
			MatchPolicy:             ptr.To(admissionregistrationv1.Equivalent),
			TimeoutSeconds:          ptr.To[int32](10),
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: ops,
				Rule: admissionregistrationv1.Rule{
					APIGroups: []string{platformv1alpha1.GroupVersion.Group}, APIVersions: []string{"v1alpha1"},
					Resources: []string{resource}, Scope: ptr.To(admissionregistrationv1.NamespacedScope),
				},
			}},
		}
	}
	return []admissionregistrationv1.ValidatingWebhook{
		hook("remediationplans.remediator.platform.chatcli.io", PlanPath, "remediationplans",
			admissionregistrationv1.Create, admissionregistrationv1.Update, admissionregistrationv1.Delete),
		hook("runbooks.remediator.platform.chatcli.io", RunbookPath, "runbooks",
			admissionregistrationv1.Create, admissionregistrationv1.Update),
	}
}

// served is one webhook server for the whole test, run as the
// remediator's ServiceAccount with its generated role.
type served struct {
	addr     string
	pki      *testenv.PKI
	audit    *lockedBuffer
	identity *testenv.ServiceIdentity
}

func serve(t *testing.T) *served {
	t.Helper()
	g := NewWithT(t)
	dir := t.TempDir()
	pki, err := testenv.NewPKI(dir)
	g.Expect(err).NotTo(HaveOccurred())
	// A kubernetes.io/tls Secret mounted as --webhook-cert-dir holds
	// tls.crt and tls.key; IssueServer("tls") writes exactly those.
	_, err = pki.IssueServer("tls")
	g.Expect(err).NotTo(HaveOccurred())
	addr, err := testenv.FreeAddr()
	g.Expect(err).NotTo(HaveOccurred())
	srv, err := NewServer(ServerOptions{BindAddress: addr, CertDir: dir})
	g.Expect(err).NotTo(HaveOccurred())

	id := env.AsService(t, "remediator", env.NewNamespace(t, "platform", nil))
	mgr, err := ctrl.NewManager(id.Config, ctrl.Options{
		Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}, WebhookServer: srv,
	})
	g.Expect(err).NotTo(HaveOccurred())
	buf := &lockedBuffer{}
	g.Expect((&Handlers{Reader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(), Audit: audit.New(buf)}).Register(mgr.GetWebhookServer())).To(Succeed())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("webhook server: %v", err)
		}
	})
	g.Eventually(func() error { return mgr.GetWebhookServer().StartedChecker()(nil) }).WithTimeout(20 * time.Second).Should(Succeed())
	return &served{addr: addr, pki: pki, audit: buf, identity: id}
}

// register points the API server at the webhook and waits until it
// answers through it.
func (s *served) register(t *testing.T) {
	t.Helper()
	g := NewWithT(t)
	ctx := context.Background()
	ca, err := os.ReadFile(s.pki.CAFile)
	g.Expect(err).NotTo(HaveOccurred())
	cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "chatcli-remediator"},
		Webhooks:   webhookRules("https://"+s.addr, ca),
	}
	g.Expect(env.Client.Create(ctx, cfg)).To(Succeed())
	// Cleanups run last in, first out: the configuration goes before the
	// server stops, so no later request meets a webhook that is gone.
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), cfg) })
	probe := env.NewNamespace(t, "probe", nil)
	g.Eventually(func() string {
		rb := runbookOf(probe, "probe", platformv1alpha1.RunbookStep{Name: "s", Action: platformv1alpha1.ActionRestartDeployment, Params: platformv1alpha1.ActionParams{"replicas": "1"}})
		err := env.Client.Create(ctx, rb)
		if err == nil {
			_ = env.Client.Delete(ctx, rb)
			return ""
		}
		return err.Error()
	}).WithTimeout(30 * time.Second).Should(ContainSubstring("denied the request"))
}

func runbookOf(ns, name string, steps ...platformv1alpha1.RunbookStep) *platformv1alpha1.Runbook {
	return &platformv1alpha1.Runbook{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: platformv1alpha1.RunbookSpec{
			Trigger: platformv1alpha1.RunbookTrigger{Severity: platformv1alpha1.SeverityHigh, ResourceKind: "Deployment"}, Steps: steps,
		},
	}
}

func newPlan(ns, name string, acts ...platformv1alpha1.RemediationAction) *platformv1alpha1.RemediationPlan {
	return &platformv1alpha1.RemediationPlan{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       platformv1alpha1.RemediationPlanSpec{IssueRef: platformv1alpha1.LocalObjectReference{Name: "checkout"}, Attempt: 1, Actions: acts},
	}
}

var restart = platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionRestartDeployment}

// inState creates a valid plan and moves it to state with a status write,
// as the reconciler does.
func inState(t *testing.T, c client.Client, ns, name string, state platformv1alpha1.PlanState) *platformv1alpha1.RemediationPlan {
	t.Helper()
	g := NewWithT(t)
	p := newPlan(ns, name, restart)
	g.Expect(env.Client.Create(context.Background(), p)).To(Succeed())
	p.Status.State = state
	g.Expect(c.Status().Update(context.Background(), p)).To(Succeed())
	return p
}

func exists(g Gomega, obj client.Object) bool {
	err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
	if apierrors.IsNotFound(err) {
		return false
	}
	g.Expect(err).NotTo(HaveOccurred())
	return true
}

// TestWebhookLive registers the webhook with the real API server, at a
// loopback URL with the CA of a PKI made here, and checks what the API
// server lets through.
func TestWebhookLive(t *testing.T) {
	ctx := context.Background()
	s := serve(t)
	remediator := s.identity.Client

	// Stored before the webhook existed, with params the catalogue refuses.
	legacyNS := env.NewNamespace(t, "legacy", nil)
	legacy := runbookOf(legacyNS, "legacy", platformv1alpha1.RunbookStep{Name: "rollback", Action: platformv1alpha1.ActionRollbackDeployment,
		Params: platformv1alpha1.ActionParams{"toRevision": "yesterday"}})
	NewWithT(t).Expect(env.Client.Create(ctx, legacy)).To(Succeed())

	s.register(t)
	ns := env.NewNamespace(t, "shop", nil)

	t.Run("TLS 1.3 only", func(t *testing.T) {
		g := NewWithT(t)
		_, err := tls.Dial("tcp", s.addr, &tls.Config{RootCAs: s.pki.CertPool(), MaxVersion: tls.VersionTLS12})
		g.Expect(err).To(HaveOccurred())
		conn, err := tls.Dial("tcp", s.addr, &tls.Config{RootCAs: s.pki.CertPool()})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(conn.ConnectionState().Version).To(Equal(uint16(tls.VersionTLS13)))
		_ = conn.Close()
	})

	t.Run("deleting a running plan is refused with the reason", func(t *testing.T) {
		g := NewWithT(t)
		p := inState(t, remediator, ns, "running-plan-1", platformv1alpha1.PlanExecuting)
		err := env.Client.Delete(ctx, p)
		g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
		g.Expect(err.Error()).To(And(
			ContainSubstring("denied the request"),
			ContainSubstring("RemediationPlan "+ns+"/running-plan-1 is Executing and cannot be deleted until it ends"),
			ContainSubstring(platformv1alpha1.AnnotationForceDelete+"=true")))
		g.Expect(exists(g, p)).To(BeTrue())
		g.Expect(s.audit.events()).To(ContainElement(And(
			HaveField("Kind", audit.KindPlanDeletion), HaveField("Plan", ns+"/running-plan-1"),
			HaveField("Result", "refused"), HaveField("Rule", RuleRunning))))
	})

	t.Run("deleting an ended plan works", func(t *testing.T) {
		g := NewWithT(t)
		for _, state := range []platformv1alpha1.PlanState{platformv1alpha1.PlanCompleted, platformv1alpha1.PlanFailed, platformv1alpha1.PlanRolledBack} {
			p := inState(t, remediator, ns, "ended-"+strings.ToLower(string(state)), state)
			g.Expect(env.Client.Delete(ctx, p)).To(Succeed())
			g.Expect(exists(g, p)).To(BeFalse())
		}
	})

	t.Run("the reconciler's own writes pass", func(t *testing.T) {
		g := NewWithT(t)
		p := inState(t, remediator, ns, "writes-plan-1", platformv1alpha1.PlanPending)
		// A status write, as every pass ends.
		p.Status.State = platformv1alpha1.PlanExecuting
		g.Expect(remediator.Status().Update(ctx, p)).To(Succeed())
		// A metadata write (the approval decision annotation of the gRPC
		// handlers).
		p.Annotations = map[string]string{platformv1alpha1.AnnotationApprovalDecision: `{"decision":"approve"}`}
		g.Expect(remediator.Update(ctx, p)).To(Succeed())

		// An agentic step recorded in spec.agenticHistory, even one whose
		// action the policy will refuse: the record must be written.
		agentic := newPlan(ns, "agentic-plan-1")
		agentic.Spec.AgenticMode = true
		g.Expect(env.Client.Create(ctx, agentic)).To(Succeed())
		agentic.Spec.AgenticHistory = []platformv1alpha1.AgenticStep{{StepNumber: 1, AIMessage: "scale up",
			Action: &platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionScaleDeployment, Params: platformv1alpha1.ActionParams{"replicas": "lots"}}}}
		g.Expect(remediator.Update(ctx, agentic)).To(Succeed())

		// A Runbook stored before the webhook keeps its counters and
		// labels, though the catalogue refuses its steps now.
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(legacy), legacy)).To(Succeed())
		legacy.Status.TimesUsed = 1
		g.Expect(remediator.Status().Update(ctx, legacy)).To(Succeed())
		legacy.Labels = map[string]string{"team": "shop"}
		g.Expect(remediator.Update(ctx, legacy)).To(Succeed())
		// ...but a change of its steps must fix them.
		legacy.Spec.Steps[0].Params["extra"] = "1"
		err := remediator.Update(ctx, legacy)
		g.Expect(err).To(MatchError(ContainSubstring(`spec.steps[0] "rollback" (RollbackDeployment): param "extra": not a param of the action`)))
	})

	t.Run("the emergency override deletes a running plan", func(t *testing.T) {
		g := NewWithT(t)
		p := inState(t, remediator, ns, "stuck-plan-1", platformv1alpha1.PlanVerifying)
		p.Annotations = map[string]string{platformv1alpha1.AnnotationForceDelete: "yes"}
		g.Expect(env.Client.Update(ctx, p)).To(Succeed())
		g.Expect(env.Client.Delete(ctx, p)).To(MatchError(ContainSubstring(`only "true" forces its deletion`)))

		p.Annotations[platformv1alpha1.AnnotationForceDelete] = "true"
		g.Expect(env.Client.Update(ctx, p)).To(Succeed())
		g.Expect(env.Client.Delete(ctx, p)).To(Succeed())
		g.Expect(exists(g, p)).To(BeFalse())
		g.Expect(s.audit.events()).To(ContainElement(And(
			HaveField("Kind", audit.KindPlanDeletion), HaveField("Plan", ns+"/stuck-plan-1"), HaveField("Actor", Not(BeEmpty())),
			HaveField("Result", "allowed"), HaveField("Rule", RuleForceDelete))))
	})

	t.Run("a namespace being deleted takes its running plans", func(t *testing.T) {
		g := NewWithT(t)
		doomed := env.NewNamespace(t, "doomed", nil)
		p := inState(t, remediator, doomed, "running-plan-1", platformv1alpha1.PlanExecuting)
		// No namespace controller runs here: the namespace stays
		// Terminating, and the plan is deleted as that controller would.
		g.Expect(env.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: doomed}})).To(Succeed())
		g.Expect(env.Client.Delete(ctx, p)).To(Succeed())
		g.Expect(exists(g, p)).To(BeFalse())
	})

	t.Run("bad params are refused at create and update", func(t *testing.T) {
		g := NewWithT(t)
		p := newPlan(ns, "bad-plan-1", restart, platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionScaleDeployment, Params: platformv1alpha1.ActionParams{"replicas": "many"}})
		err := env.Client.Create(ctx, p)
		g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
		g.Expect(err.Error()).To(ContainSubstring(`RemediationPlan ` + ns + `/bad-plan-1 refused: spec.actions[1] (ScaleDeployment): param "replicas": "many" is not an integer`))

		rb := runbookOf(ns, "oom", platformv1alpha1.RunbookStep{Name: "more memory", Action: platformv1alpha1.ActionAdjustResources,
			Params: platformv1alpha1.ActionParams{"container": "app", "memory_request": "1Gi", "memory_limit": "512Mi"}})
		g.Expect(env.Client.Create(ctx, rb)).To(MatchError(ContainSubstring(`spec.steps[0] "more memory" (AdjustResources): param "memory_limit": below memory_request`)))
		rb.Spec.Steps[0].Params["memory_request"] = "256Mi"
		g.Expect(env.Client.Create(ctx, rb)).To(Succeed())
		rb.Spec.Steps[0].Params["cpu_limit"] = "a lot"
		g.Expect(env.Client.Update(ctx, rb)).To(MatchError(ContainSubstring(`param "cpu_limit"`)))
	})

	t.Run("an unknown action is refused at create", func(t *testing.T) {
		g := NewWithT(t)
		// The CRD's enum refuses a type it does not list before any
		// webhook is asked.
		p := newPlan(ns, "unknown-plan-1", platformv1alpha1.RemediationAction{Type: "FrobnicateDeployment"})
		g.Expect(apierrors.IsInvalid(env.Client.Create(ctx, p))).To(BeTrue())

		// A CRD newer than this remediator lists a type its catalogue does
		// not know: the webhook refuses it.
		widenActionEnum(t, "remediationplans.platform.chatcli.io", "runbooks.platform.chatcli.io")
		g.Eventually(func() string {
			err := env.Client.Create(ctx, newPlan(ns, "unknown-plan-1", restart, platformv1alpha1.RemediationAction{Type: "FrobnicateDeployment"}))
			if err == nil {
				return "created"
			}
			return err.Error()
		}).WithTimeout(30 * time.Second).Should(ContainSubstring(`spec.actions[1] (FrobnicateDeployment): not an action of the remediator's catalogue`))
		g.Eventually(func() string {
			err := env.Client.Create(ctx, runbookOf(ns, "unknown", platformv1alpha1.RunbookStep{Name: "frobnicate", Action: "FrobnicateDeployment"}))
			if err == nil {
				return "created"
			}
			return err.Error()
		}).WithTimeout(30 * time.Second).Should(ContainSubstring(`spec.steps[0] "frobnicate" (FrobnicateDeployment): not an action of the remediator's catalogue`))
	})
}

// widenActionEnum adds FrobnicateDeployment to every enum of action types
// in the named CRDs, as a CRD of a later release would.
func widenActionEnum(t *testing.T, names ...string) {
	t.Helper()
	g := NewWithT(t)
	ctx := context.Background()
	known, err := json.Marshal(string(platformv1alpha1.ActionScaleDeployment))
	g.Expect(err).NotTo(HaveOccurred())
	var widen func(p *apiextensionsv1.JSONSchemaProps)
	widen = func(p *apiextensionsv1.JSONSchemaProps) {
		for _, e := range p.Enum {
			if bytes.Equal(e.Raw, known) {
				p.Enum = append(p.Enum, apiextensionsv1.JSON{Raw: []byte(`"FrobnicateDeployment"`)})
				break
			}
		}
		for k, child := range p.Properties {
			widen(&child)
			p.Properties[k] = child
		}
		if p.Items != nil && p.Items.Schema != nil {
			widen(p.Items.Schema)
		}
	}
	for _, name := range names {
		g.Eventually(func() error {
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
				return err
			}
			for i := range crd.Spec.Versions {
				widen(crd.Spec.Versions[i].Schema.OpenAPIV3Schema)
			}
			return env.Client.Update(ctx, crd)
		}).WithTimeout(10 * time.Second).Should(Succeed())
	}
}

// TestServerReloadsAFileCertificate: the server on the gRPC certificate
// (no --webhook-cert-dir) serves a rotated certificate without a restart.
func TestServerReloadsAFileCertificate(t *testing.T) {
	g := NewWithT(t)
	pki, err := testenv.NewPKI(t.TempDir())
	g.Expect(err).NotTo(HaveOccurred())
	addr, err := testenv.FreeAddr()
	g.Expect(err).NotTo(HaveOccurred())
	srv, err := NewServer(ServerOptions{BindAddress: addr, CertFile: pki.Server.CertFile, KeyFile: pki.Server.KeyFile})
	g.Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("webhook server: %v", err)
		}
	})

	serial := func() string {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pki.CertPool()})
		if err != nil {
			return err.Error()
		}
		defer func() { _ = conn.Close() }()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	g.Eventually(serial).WithTimeout(10 * time.Second).Should(Equal(pki.Server.Certificate.SerialNumber.String()))
	rotated, err := pki.IssueServer("server")
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(serial).WithTimeout(30 * time.Second).Should(Equal(rotated.Certificate.SerialNumber.String()))
}
