package bootstrap

import (
	"flag"
	"io"
	"strings"
	"testing"
)

func TestParseFlags(t *testing.T) {
	tests := map[string]struct {
		reason      string
		env         map[string]string
		args        []string
		wantLeader  bool
		wantFormat  string
		wantErrPart string
	}{
		"Defaults":        {reason: "nothing set keeps the defaults", wantLeader: true, wantFormat: "json"},
		"Environment":     {reason: "CHATCLI_* sets a flag", env: map[string]string{"CHATCLI_LEADER_ELECT": "false", "CHATCLI_LOG_FORMAT": "console"}, wantFormat: "console"},
		"CommandLineWins": {reason: "the command line beats the environment", env: map[string]string{"CHATCLI_LOG_FORMAT": "console"}, args: []string{"--log-format=json"}, wantLeader: true, wantFormat: "json"},
		"EmptyIsUnset":    {reason: "an empty variable does not blank a flag", env: map[string]string{"CHATCLI_LOG_FORMAT": ""}, wantLeader: true, wantFormat: "json"},
		"BadEnvironment":  {reason: "a bad value is an error that names the variable", env: map[string]string{"CHATCLI_LEADER_ELECT": "nope"}, wantErrPart: "CHATCLI_LEADER_ELECT"},
		"DetachedBoolean": {reason: "--leader-elect false would drop every later flag", args: []string{"--leader-elect", "false", "--log-format=console"}, wantErrPart: "--flag=false"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			opts := DefaultOptions("test")
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			opts.AddFlags(fs)
			err := ParseFlags(fs, tc.args)
			if tc.wantErrPart != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrPart) {
					t.Fatalf("%s: error %v, want one containing %q", tc.reason, err, tc.wantErrPart)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.reason, err)
			}
			if opts.LeaderElect != tc.wantLeader || opts.LogFormat != tc.wantFormat {
				t.Errorf("%s: leader-elect %v, log-format %q; want %v, %q", tc.reason, opts.LeaderElect, opts.LogFormat, tc.wantLeader, tc.wantFormat)
			}
		})
	}
}
