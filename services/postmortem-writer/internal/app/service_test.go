package app

import (
	"flag"
	"io"
	"strings"
	"testing"
)

func TestFlags(t *testing.T) {
	cases := map[string]struct {
		reason  string
		args    []string
		wantErr string
	}{
		"Defaults": {
			reason: "No peer is needed: the report comes from the records, and nothing is promoted.",
		},
		"BothPeers": {
			reason: "A peer named whole is accepted.",
			args: []string{"--analyzer-address=dns:///analyzer.chatcli.svc:9090", "--analyzer-ca-file=ca.crt", "--analyzer-token-file=token",
				"--remediator-address=remediator:9090", "--remediator-ca-file=ca.crt", "--remediator-token-file=token",
				"--postmortem-min-severity=critical", "--postmortem-all-ended", "--markdown-configmaps", "--scrub-pattern=ticket-[0-9]+"},
		},
		"HalfAPeer": {
			reason:  "A peer named in part is refused, rather than silently not called.",
			args:    []string{"--analyzer-address=analyzer:9090"},
			wantErr: "--analyzer-ca-file is required",
		},
		"BadSeverity": {
			reason:  "The threshold is a severity.",
			args:    []string{"--postmortem-min-severity=urgent"},
			wantErr: `--postmortem-min-severity "urgent"`,
		},
		"BadPattern": {
			reason:  "A scrub pattern must compile.",
			args:    []string{"--scrub-pattern=("},
			wantErr: "--scrub-pattern",
		},
		"NoWorkers": {
			reason:  "At least one worker writes reports.",
			args:    []string{"--postmortem-workers=0"},
			wantErr: "--postmortem-workers must be at least 1",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			svc := Service()
			fs := flag.NewFlagSet("postmortem-writer", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			svc.AddFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := svc.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("%s\nValidate() = %v; want no error", tc.reason, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("%s\nValidate() = %v; want an error with %q", tc.reason, err, tc.wantErr)
			}
		})
	}
}
