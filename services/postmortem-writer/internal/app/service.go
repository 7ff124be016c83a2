// Package app wires the postmortem-writer: the trigger that opens a
// PostMortem for each ended Issue, the PostMortem reconciler that writes
// its report, and PostMortemService.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/bootstrap"
	"github.com/chatcli/aiops/libs/grpcx"
	analyzerv1 "github.com/chatcli/aiops/proto/chatcli/platform/analyzer/v1"
	postmortemv1 "github.com/chatcli/aiops/proto/chatcli/platform/postmortem/v1"
	remediatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/remediator/v1"
	"github.com/chatcli/aiops/services/postmortem-writer/internal/grpcserver"
	"github.com/chatcli/aiops/services/postmortem-writer/internal/reconcilers/issue"
	"github.com/chatcli/aiops/services/postmortem-writer/internal/reconcilers/postmortem"
	"github.com/chatcli/aiops/services/postmortem-writer/internal/report"
)

// Service declares the postmortem-writer. It needs no Redis: one
// deterministic name per Issue keeps it exactly-once.
func Service() bootstrap.Service {
	o := &options{minSeverity: string(platformv1alpha1.SeverityHigh), callTimeout: 20 * time.Second, workers: 4}
	return bootstrap.Service{
		Name: "postmortem-writer", GRPC: true, Redis: bootstrap.RedisUnused,
		AddFlags: o.addFlags, Validate: o.validate, Setup: o.setup,
	}
}

type options struct {
	minSeverity   string
	allEnded      bool
	scrubPatterns []string
	callTimeout   time.Duration
	workers       int
	markdown      bool
	analyzer      grpcx.PeerConfig
	remediator    grpcx.PeerConfig
}

func (o *options) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.minSeverity, "postmortem-min-severity", o.minSeverity,
		"Every Resolved or Escalated Issue at or above this severity (critical, high, medium, low) gets a PostMortem; an Issue resolved by an agentic plan always does.")
	fs.BoolVar(&o.allEnded, "postmortem-all-ended", o.allEnded, "Write a PostMortem for every Resolved or Escalated Issue, whatever its severity.")
	fs.Func("scrub-pattern", "A Go regular expression whose matches are redacted from every report, on top of the built-in patterns; repeat for more.", func(s string) error {
		o.scrubPatterns = append(o.scrubPatterns, s)
		return nil
	})
	fs.BoolVar(&o.markdown, "markdown-configmaps", o.markdown, "Keep a Markdown copy of each report in a ConfigMap <postmortem>-md beside the PostMortem.")
	fs.IntVar(&o.workers, "postmortem-workers", o.workers, "PostMortems written at once; a report may wait on the analyzer.")
	fs.DurationVar(&o.callTimeout, "peer-call-timeout", o.callTimeout, "Bound on one call to the analyzer or the remediator.")
	o.analyzer.AddFlags(fs, "analyzer")
	o.remediator.AddFlags(fs, "remediator")
}

// validate checks the flags. Each peer is optional: without the analyzer a
// report is built from the records alone, without the remediator nothing
// is promoted to a Runbook. A peer named is checked whole.
func (o *options) validate() error {
	var errs []error
	if !platformv1alpha1.Severity(o.minSeverity).IsValid() {
		errs = append(errs, fmt.Errorf("--postmortem-min-severity %q is not one of critical, high, medium, low", o.minSeverity))
	}
	if o.workers < 1 {
		errs = append(errs, fmt.Errorf("--postmortem-workers must be at least 1, got %d", o.workers))
	}
	if o.callTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--peer-call-timeout must be positive, got %s", o.callTimeout))
	}
	if _, err := report.NewScrub(o.scrubPatterns); err != nil {
		errs = append(errs, fmt.Errorf("--scrub-pattern: %w", err))
	}
	for _, p := range []*grpcx.PeerConfig{&o.analyzer, &o.remediator} {
		if configured(p) {
			errs = append(errs, p.Validate())
		}
	}
	return errors.Join(errs...)
}

func configured(p *grpcx.PeerConfig) bool {
	return p.Address != "" || p.CAFile != "" || p.TokenFile != ""
}

func (o *options) setup(_ context.Context, rt *bootstrap.Runtime) error {
	mgr := rt.Manager
	scrub, err := report.NewScrub(o.scrubPatterns)
	if err != nil {
		return fmt.Errorf("build the scrubber: %w", err)
	}
	var analyzer analyzerv1.AnalyzerServiceClient
	if configured(&o.analyzer) {
		conn, err := o.analyzer.Dial(rt.Log)
		if err != nil {
			return fmt.Errorf("dial the analyzer: %w", err)
		}
		analyzer = analyzerv1.NewAnalyzerServiceClient(conn)
	}
	var remediator remediatorv1.RemediatorServiceClient
	if configured(&o.remediator) {
		conn, err := o.remediator.Dial(rt.Log)
		if err != nil {
			return fmt.Errorf("dial the remediator: %w", err)
		}
		remediator = remediatorv1.NewRemediatorServiceClient(conn)
	}
	if err := (&issue.Reconciler{
		Client: mgr.GetClient(),
		Policy: issue.Policy{MinSeverity: platformv1alpha1.Severity(o.minSeverity), AllEnded: o.allEnded},
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up the PostMortem trigger: %w", err)
	}
	if err := (&postmortem.Reconciler{
		Client: mgr.GetClient(), Analyzer: analyzer, Remediator: remediator,
		Scrub: scrub, Now: time.Now, CallTimeout: o.callTimeout, Workers: o.workers,
		MarkdownConfigMaps: o.markdown,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up the PostMortem reconciler: %w", err)
	}
	postmortemv1.RegisterPostMortemServiceServer(rt.GRPC, &grpcserver.Server{Client: rt.HandlerClient, Reader: rt.Manager.GetAPIReader(), Now: time.Now})
	return nil
}
