package incidents

import (
	"testing"

	correlatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/correlator/v1"
)

func TestFilterDigestIgnoresOrderAndPageSize(t *testing.T) {
	a := filterDigest(&correlatorv1.ListIncidentsRequest{Severities: []string{"high", "low"}, States: []correlatorv1.IncidentState{2, 1}, PageSize: 3})
	b := filterDigest(&correlatorv1.ListIncidentsRequest{Severities: []string{"low", "high", "low"}, States: []correlatorv1.IncidentState{1, 2}, PageSize: 9})
	if string(a) != string(b) {
		t.Fatal("the same filters in another order give another digest")
	}
	c := filterDigest(&correlatorv1.ListIncidentsRequest{Severities: []string{"high"}, States: []correlatorv1.IncidentState{1, 2}})
	if string(a) == string(c) {
		t.Fatal("other filters give the same digest")
	}
}

// FuzzPageToken feeds the parser arbitrary tokens: it never panics, and
// accepts only what encodePageToken made for the same filters, whatever
// bytes were changed.
func FuzzPageToken(f *testing.F) {
	digest := filterDigest(&correlatorv1.ListIncidentsRequest{Namespace: "shop"})
	valid := encodePageToken(defaultPageTokenKey, digest, pagePosition{CreatedUnix: 1771237800, Namespace: "shop", Name: "checkout-oom"})
	f.Add(valid, int64(1771237800), "shop", "checkout-oom")
	f.Add("", int64(0), "", "x")
	f.Add("AQ", int64(-1), "ns", "n")
	f.Add(valid[:len(valid)-1]+"A", int64(5), "a", "b")
	f.Fuzz(func(t *testing.T, token string, created int64, ns, name string) {
		if p, err := decodePageToken(defaultPageTokenKey, digest, token); err == nil {
			if again := encodePageToken(defaultPageTokenKey, digest, p); again != token {
				t.Fatalf("accepted %q, which encodes back as %q", token, again)
			}
		}
		if name == "" {
			return
		}
		want := pagePosition{CreatedUnix: created, Namespace: ns, Name: name}
		tok := encodePageToken(defaultPageTokenKey, digest, want)
		got, err := decodePageToken(defaultPageTokenKey, digest, tok)
		if len(tok) > maxPageTokenLength {
			if err == nil {
				t.Fatalf("accepted a token of %d characters", len(tok))
			}
			return
		}
		if err != nil || got != want {
			t.Fatalf("round trip of %+v: %+v, %v", want, got, err)
		}
		if _, err := decodePageToken(defaultPageTokenKey, filterDigest(&correlatorv1.ListIncidentsRequest{Namespace: "other"}), tok); err == nil {
			t.Fatal("a token for other filters was accepted")
		}
	})
}
