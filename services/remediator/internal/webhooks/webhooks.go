// Package webhooks is the remediator's validating admission webhook for
// RemediationPlans and Runbooks: it refuses the deletion of a plan that has
// not ended, and a plan or Runbook whose actions the catalogue refuses. It
// runs on every replica (the webhook server needs no leader) and only
// reads: it never writes an object or a status.
package webhooks

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/services/remediator/internal/audit"
)

// The paths the ValidatingWebhookConfiguration of the chart points at.
const (
	// PlanPath validates CREATE, UPDATE and DELETE of RemediationPlans.
	PlanPath = "/validate-platform-chatcli-io-v1alpha1-remediationplan"
	// RunbookPath validates CREATE and UPDATE of Runbooks.
	RunbookPath = "/validate-platform-chatcli-io-v1alpha1-runbook"
)

// Defaults of the webhook flags.
const (
	// DefaultBindAddress is where the webhook server listens.
	DefaultBindAddress = ":9443"
	// CertName and KeyName are the files the server reads from
	// --webhook-cert-dir (the keys of a kubernetes.io/tls Secret).
	CertName = "tls.crt"
	KeyName  = "tls.key"
)

// ServerOptions configure the webhook server.
type ServerOptions struct {
	// BindAddress is host:port; "" or "0" disables the server.
	BindAddress string
	// CertDir holds CertName and KeyName, reloaded when they change.
	CertDir string
	// CertFile and KeyFile name the certificate directly when CertDir is
	// empty (the remediator falls back to its gRPC certificate).
	CertFile, KeyFile string
}

// Enabled reports whether the options ask for a server.
func (o ServerOptions) Enabled() bool { return o.BindAddress != "" && o.BindAddress != "0" }

// NewServer returns the webhook server: TLS 1.3 and HTTP/1.1 only (HTTP/2's
// stream handling has been the source of denial-of-service bugs, and the
// API server needs none of it), with the certificate reloaded as it
// rotates (controller-runtime's certwatcher).
func NewServer(o ServerOptions) (webhook.Server, error) {
	host, portText, err := net.SplitHostPort(o.BindAddress)
	if err != nil {
		return nil, fmt.Errorf("webhook bind address %q: %w", o.BindAddress, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 1 || port > 65535 {
		return nil, fmt.Errorf("webhook bind address %q: the port must be 1-65535", o.BindAddress)
	}
	opts := webhook.Options{
		Host: host, Port: port, CertDir: o.CertDir, CertName: CertName, KeyName: KeyName,
		TLSOpts: []func(*tls.Config){func(c *tls.Config) {
			c.MinVersion = tls.VersionTLS13
			c.NextProtos = []string{"http/1.1"}
		}},
	}
	if o.CertDir != "" {
		return webhook.NewServer(opts), nil
	}
	if o.CertFile == "" || o.KeyFile == "" {
		return nil, fmt.Errorf("the webhook server needs a certificate: a cert dir, or a cert and key file")
	}
	// controller-runtime watches only <CertDir>/<CertName>, so a
	// certificate named by file gets a watcher of its own.
	watcher, err := certwatcher.New(o.CertFile, o.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load the webhook certificate: %w", err)
	}
	opts.TLSOpts = append(opts.TLSOpts, func(c *tls.Config) { c.GetCertificate = watcher.GetCertificate })
	return &watchedServer{Server: webhook.NewServer(opts), watcher: watcher}, nil
}

// watchedServer runs its certificate watcher alongside the server.
type watchedServer struct {
	webhook.Server
	watcher *certwatcher.CertWatcher
}

func (s *watchedServer) Start(ctx context.Context) error {
	errs := make(chan error, 1)
	go func() { errs <- s.watcher.Start(ctx) }()
	if err := s.Server.Start(ctx); err != nil {
		return err
	}
	return <-errs
}

// Handlers validate plans and Runbooks. Reader reads namespaces (from the
// API server: a deleting namespace must be seen at once).
type Handlers struct {
	Reader client.Reader
	Scheme *runtime.Scheme
	Audit  *audit.Logger
}

// Register adds both handlers to srv.
func (h *Handlers) Register(srv webhook.Server) error {
	if h.Reader == nil || h.Scheme == nil {
		return fmt.Errorf("webhooks: Reader and Scheme are required")
	}
	dec := admission.NewDecoder(h.Scheme)
	srv.Register(PlanPath, &webhook.Admission{Handler: &planHandler{Handlers: h, decoder: dec}})
	srv.Register(RunbookPath, &webhook.Admission{Handler: &runbookHandler{decoder: dec}})
	return nil
}

func respond(v Verdict) admission.Response {
	if !v.Allowed {
		return admission.Denied(v.Reason)
	}
	return admission.Allowed("").WithWarnings(v.Warnings...)
}

type planHandler struct {
	*Handlers
	decoder admission.Decoder
}

func (h *planHandler) Handle(ctx context.Context, req admission.Request) admission.Response {
	log := logr.FromContextOrDiscard(ctx).WithValues("remediationPlan", req.Namespace+"/"+req.Name, "operation", req.Operation, "user", req.UserInfo.Username)
	switch req.Operation {
	case admissionv1.Delete:
		p := &platformv1alpha1.RemediationPlan{}
		if err := h.decoder.DecodeRaw(req.OldObject, p); err != nil {
			return admission.Errored(http.StatusBadRequest, fmt.Errorf("decode the RemediationPlan: %w", err))
		}
		return h.delete(ctx, log, req, p)
	case admissionv1.Create, admissionv1.Update:
		p := &platformv1alpha1.RemediationPlan{}
		if err := h.decoder.DecodeRaw(req.Object, p); err != nil {
			return admission.Errored(http.StatusBadRequest, fmt.Errorf("decode the RemediationPlan: %w", err))
		}
		var old *platformv1alpha1.RemediationPlan
		if req.Operation == admissionv1.Update {
			old = &platformv1alpha1.RemediationPlan{}
			if err := h.decoder.DecodeRaw(req.OldObject, old); err != nil {
				return admission.Errored(http.StatusBadRequest, fmt.Errorf("decode the old RemediationPlan: %w", err))
			}
		}
		v := DecidePlanChange(old, p)
		if !v.Allowed {
			log.Info("Refused RemediationPlan", "reason", v.Reason)
		}
		return respond(v)
	}
	return admission.Allowed("")
}

func (h *planHandler) delete(ctx context.Context, log logr.Logger, req admission.Request, p *platformv1alpha1.RemediationPlan) admission.Response {
	deleting := false
	if !p.Status.State.IsTerminal() && p.Annotations[platformv1alpha1.AnnotationForceDelete] != "true" {
		ns := &corev1.Namespace{}
		if err := h.Reader.Get(ctx, client.ObjectKey{Name: p.Namespace}, ns); err != nil {
			log.Error(err, "Could not read the plan's namespace")
			return admission.Errored(http.StatusInternalServerError, fmt.Errorf("read namespace %s to decide whether it is being deleted: %w", p.Namespace, err))
		}
		deleting = ns.DeletionTimestamp != nil
	}
	v := DecidePlanDeletion(p, deleting)
	if v.Rule == RuleTerminal {
		return respond(v)
	}
	result := "allowed"
	if !v.Allowed {
		result = "refused"
	}
	detail := "state " + string(p.Status.State)
	if req.DryRun != nil && *req.DryRun {
		detail += ", dry-run"
	}
	h.Audit.Record(audit.Event{Kind: audit.KindPlanDeletion, Actor: req.UserInfo.Username, Plan: p.Namespace + "/" + p.Name,
		Issue: p.Spec.IssueRef.Name, Result: result, Rule: v.Rule, Detail: detail})
	log.Info("Decided the deletion of a RemediationPlan that has not ended", "state", p.Status.State, "allowed", v.Allowed, "rule", v.Rule)
	return respond(v)
}

type runbookHandler struct {
	decoder admission.Decoder
}

func (h *runbookHandler) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed("")
	}
	rb := &platformv1alpha1.Runbook{}
	if err := h.decoder.DecodeRaw(req.Object, rb); err != nil {
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("decode the Runbook: %w", err))
	}
	var old *platformv1alpha1.Runbook
	if req.Operation == admissionv1.Update {
		old = &platformv1alpha1.Runbook{}
		if err := h.decoder.DecodeRaw(req.OldObject, old); err != nil {
			return admission.Errored(http.StatusBadRequest, fmt.Errorf("decode the old Runbook: %w", err))
		}
	}
	v := DecideRunbookChange(old, rb)
	if !v.Allowed {
		logr.FromContextOrDiscard(ctx).Info("Refused Runbook", "runbook", req.Namespace+"/"+req.Name, "operation", req.Operation,
			"user", req.UserInfo.Username, "reason", v.Reason)
	}
	return respond(v)
}
