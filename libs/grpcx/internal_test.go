package grpcx

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// fakeClock is advanced by hand, so the tests below never wait.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestPeerLimiterStaysBounded(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	l := newPeerLimiter(100, 10, 3, time.Minute, 0, 0)
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
	l := newPeerLimiter(0.5, 10, 0, time.Second, 0, 0)
	if want := 20 * time.Second; l.idle != want {
		t.Errorf("idle = %v, want %v", l.idle, want)
	}
}

func TestPeerLimiterServerBucket(t *testing.T) {
	// Each peer could make 10 calls, but the server takes only 3 in all,
	// whoever makes them: a crowd of peers cannot add up their bursts.
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	l := newPeerLimiter(0.001, 10, 0, 0, 0.001, 3)
	l.now = clock.now
	var got []string
	for _, key := range []string{"ip:a", "ip:b", "ip:c", "ip:d", "ip:a"} {
		got = append(got, l.allow(key))
	}
	want := []string{"", "", "", limitedByServer, limitedByServer}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("refusals (-want +got):\n%s", diff)
	}

	// A peer out of its own tokens is refused as such.
	l = newPeerLimiter(0.001, 1, 0, 0, 0, 0)
	l.now = clock.now
	if got := []string{l.allow("ip:a"), l.allow("ip:a")}; !slices.Equal(got, []string{"", limitedByPeer}) {
		t.Errorf("per-peer refusals = %q, want [\"\" %q]", got, limitedByPeer)
	}
}

func TestLimitKey(t *testing.T) {
	cases := map[string]struct {
		reason string
		addr   net.Addr
		want   string
	}{
		"IPv4":             {reason: "an IPv4 peer is its address", addr: &net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 4000}, want: "ip:10.1.2.3"},
		"IPv4-mapped IPv6": {reason: "a mapped IPv4 address is the IPv4 peer", addr: &net.TCPAddr{IP: net.ParseIP("::ffff:10.1.2.3"), Port: 4000}, want: "ip:10.1.2.3"},
		"IPv6":             {reason: "an IPv6 peer is its /64", addr: &net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:aaaa::1"), Port: 4000}, want: "ip:2001:db8:1:2::/64"},
		"IPv6 same /64":    {reason: "another address of the same /64 shares the bucket", addr: &net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:ffff:ffff:ffff:ffff"), Port: 5000}, want: "ip:2001:db8:1:2::/64"},
		"IPv6 with zone":   {reason: "the zone does not split the bucket", addr: &net.TCPAddr{IP: net.ParseIP("fe80::1"), Zone: "eth0", Port: 4000}, want: "ip:fe80::/64"},
		"not an address":   {reason: "anything else is kept as it is", addr: &net.UnixAddr{Name: "/run/grpc.sock", Net: "unix"}, want: "ip:/run/grpc.sock"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: tc.addr})
			if got := limitKey(ctx); got != tc.want {
				t.Errorf("%s: limitKey = %q, want %q", tc.reason, got, tc.want)
			}
		})
	}
}

// BenchmarkPeerLimiterFull measures a call from a new peer when the
// limiter holds maxPeers active peers, the case that used to scan them all.
func BenchmarkPeerLimiterFull(b *testing.B) {
	l := newPeerLimiter(100, 10, DefaultMaxPeers, time.Hour, 0, 0)
	for i := range DefaultMaxPeers {
		l.allow("ip:" + strconv.Itoa(i))
	}
	b.ResetTimer()
	for i := range b.N {
		l.allow("ip:new-" + strconv.Itoa(i))
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

// TestInterceptorsCheckWhatTheTapDidNot: a call that did not pass the tap
// (grpc.Server.ServeHTTP runs none) meets the rate limit and the token in
// the interceptors; a call the tap passed is not charged or checked twice.
func TestInterceptorsCheckWhatTheTapDidNot(t *testing.T) {
	token := "interceptor-test-token-of-32-bytes-or-more"
	auth := newTokenAuth(func() Tokens { return Tokens{Current: token} })
	info := &grpc.UnaryServerInfo{FullMethod: "/grpcx.test.Probe/Ping"}
	ok := func(context.Context, any) (any, error) { return "ran", nil }
	base := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 1}})
	withToken := metadata.NewIncomingContext(base, metadata.Pairs("authorization", "Bearer "+token))
	tapped := context.WithValue(base, tapCheckedKey{}, true)

	cases := map[string]struct {
		ctx  context.Context
		want codes.Code
	}{
		"untapped, no token":  {ctx: base, want: codes.Unauthenticated},
		"untapped, the token": {ctx: withToken, want: codes.OK},
		"tapped, no metadata": {ctx: tapped, want: codes.OK},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := auth.unary()(tc.ctx, nil, info, ok)
			if got := status.Code(err); got != tc.want {
				t.Errorf("auth interceptor: %v, want %v", err, tc.want)
			}
		})
	}

	l := newPeerLimiter(0.001, 1, 0, 0, 0, 0)
	for i, want := range []codes.Code{codes.OK, codes.ResourceExhausted} {
		if _, err := l.unary()(base, nil, info, ok); status.Code(err) != want {
			t.Errorf("untapped call %d: %v, want %v", i+1, err, want)
		}
	}
	if _, err := l.unary()(tapped, nil, info, ok); err != nil {
		t.Errorf("a tapped call was charged again: %v", err)
	}
}
