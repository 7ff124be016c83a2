package grpcx

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeClock is advanced by hand, so the tests below never wait.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestPeerLimiterStaysBounded(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	l := newPeerLimiter(100, 10, 3, time.Minute)
	l.now = clock.now
	peers := func() []string {
		var keys []string
		for k := range l.peers {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return keys
	}

	for _, key := range []string{"ip:a", "ip:b", "ip:c"} {
		clock.advance(time.Second)
		l.allow(key)
	}
	clock.advance(time.Second)
	l.allow("ip:a") // a is now the most recently seen
	clock.advance(time.Second)
	l.allow("ip:d") // full: b, the least recently seen, makes room
	if diff := cmp.Diff([]string{"ip:a", "ip:c", "ip:d"}, peers()); diff != "" {
		t.Errorf("peers at capacity (-want +got):\n%s", diff)
	}

	clock.advance(2 * time.Minute)
	l.allow("ip:e") // everyone else idled out
	if diff := cmp.Diff([]string{"ip:e"}, peers()); diff != "" {
		t.Errorf("peers after idle sweep (-want +got):\n%s", diff)
	}
}

func TestPeerLimiterKeepsPeersUntilRefilled(t *testing.T) {
	// Forgetting a peer before its bucket refilled would hand it a full
	// burst early, so the idle timeout never undercuts the refill time.
	l := newPeerLimiter(0.5, 10, 0, time.Second)
	if want := 20 * time.Second; l.idle != want {
		t.Errorf("idle = %v, want %v", l.idle, want)
	}
}

func TestFileReloader(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "value")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	parse := func(c [][]byte) (string, error) {
		if string(c[0]) == "bad" {
			return "", errors.New("bad content")
		}
		return string(c[0]), nil
	}
	var reports []string
	report := func(_ []string, err error) {
		if err != nil {
			reports = append(reports, "error")
			return
		}
		reports = append(reports, "reloaded")
	}

	write("one")
	r, err := newFileReloader(time.Second, parse, report, path)
	if err != nil {
		t.Fatalf("newFileReloader: %v", err)
	}
	clock := &fakeClock{t: time.Now()}
	r.now = clock.now

	steps := []struct {
		reason  string
		write   string
		advance time.Duration
		want    string
	}{
		{reason: "a change within the interval is not read yet", write: "two", want: "one"},
		{reason: "after the interval the change is read", advance: time.Second, want: "two"},
		{reason: "bad content keeps the last good value", write: "bad", advance: time.Second, want: "two"},
		{reason: "the same bad content is not reported again", advance: time.Second, want: "two"},
		{reason: "good content is picked up again", write: "three", advance: time.Second, want: "three"},
	}
	for _, s := range steps {
		if s.write != "" {
			write(s.write)
		}
		clock.advance(s.advance)
		if got := r.get(); got != s.want {
			t.Errorf("%s: got %q, want %q", s.reason, got, s.want)
		}
	}
	if diff := cmp.Diff([]string{"reloaded", "error", "reloaded"}, reports); diff != "" {
		t.Errorf("reports (-want +got):\n%s", diff)
	}

	if _, err := newFileReloader(time.Second, parse, nil, filepath.Join(dir, "missing")); err == nil {
		t.Error("newFileReloader accepted a missing file")
	}
}

func TestSplitMethod(t *testing.T) {
	cases := map[string]struct {
		in                  string
		wantService, wantMe string
	}{
		"full method": {in: "/chatcli.platform.analyzer.v1.AnalyzerService/AnalyzeIssue", wantService: "chatcli.platform.analyzer.v1.AnalyzerService", wantMe: "AnalyzeIssue"},
		"no slash":    {in: "Odd", wantService: "unknown", wantMe: "Odd"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			service, method := splitMethod(tc.in)
			if service != tc.wantService || method != tc.wantMe {
				t.Errorf("splitMethod(%q) = %q, %q; want %q, %q", tc.in, service, method, tc.wantService, tc.wantMe)
			}
		})
	}
}

func TestBearerTokenHeader(t *testing.T) {
	cases := map[string]struct {
		header    string
		wantToken string
		wantOK    bool
	}{
		"bearer":            {header: "Bearer abc", wantToken: "abc", wantOK: true},
		"lower-case scheme": {header: "bearer abc", wantToken: "abc", wantOK: true},
		"basic scheme":      {header: "Basic abc"},
		"scheme only":       {header: "Bearer "},
		"empty":             {header: ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			token, ok := bearerToken(tc.header)
			if token != tc.wantToken || ok != tc.wantOK {
				t.Errorf("bearerToken(%q) = %q, %v; want %q, %v", tc.header, token, ok, tc.wantToken, tc.wantOK)
			}
		})
	}
}
