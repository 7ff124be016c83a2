package detect

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// selfSigned is a PEM certificate for dnsName valid until notAfter.
func selfSigned(t testing.TB, dnsName string, notAfter time.Time) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "shop"},
		DNSNames: []string{dnsName}, NotBefore: notAfter.Add(-90 * 24 * time.Hour), NotAfter: notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestLeafCertificate(t *testing.T) {
	expiry := now.Add(10 * 24 * time.Hour).Truncate(time.Second)
	leaf := selfSigned(t, "shop.example", expiry)
	other := selfSigned(t, "ca.example", expiry.Add(time.Hour))
	cases := map[string]struct {
		reason  string
		data    []byte
		want    time.Time
		subject string
		wantErr bool
	}{
		"Leaf":      {reason: "one certificate", data: leaf, want: expiry, subject: "shop.example"},
		"Chain":     {reason: "the first certificate is the leaf", data: append(append([]byte{}, leaf...), other...), want: expiry, subject: "shop.example"},
		"KeyFirst":  {reason: "other blocks before it are skipped", data: append(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1}}), leaf...), want: expiry, subject: "shop.example"},
		"Empty":     {reason: "nothing to read", data: nil, wantErr: true},
		"NotPEM":    {reason: "DER or garbage is not a PEM bundle", data: []byte("not a certificate"), wantErr: true},
		"BrokenDER": {reason: "a CERTIFICATE block that does not parse", data: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x01}}), wantErr: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, subject, err := LeafCertificate(tc.data)
			if (err != nil) != tc.wantErr {
				t.Fatalf("%s: error %v, want error %t", tc.reason, err, tc.wantErr)
			}
			if !got.Equal(tc.want) || subject != tc.subject {
				t.Errorf("%s: got %s %q, want %s %q", tc.reason, got, subject, tc.want, tc.subject)
			}
		})
	}
}

func TestEvaluateTLSSecret(t *testing.T) {
	cfg := DefaultConfig()
	day := 24 * time.Hour
	expiring := func(left time.Duration, desc string) Finding {
		return finding(platformv1alpha1.SignalCertExpiring, "", days(left), "14.0d", desc)
	}
	cases := map[string]struct {
		reason string
		left   time.Duration
		want   Result
	}{
		"FarOff": {
			reason: "a certificate valid for 30 more days is looked at again when it enters the threshold, at most every 12h",
			left:   30 * day, want: Result{RecheckAfter: 12 * time.Hour},
		},
		"JustOutside": {
			reason: "one hour outside the threshold",
			left:   14*day + time.Hour, want: Result{RecheckAfter: time.Hour},
		},
		"Within": {
			reason: "ten days left is high",
			left:   10 * day,
			want: Result{RecheckAfter: 12 * time.Hour, Findings: []Finding{expiring(10*day,
				"CertificateExpiring in Secret shop-tls: the certificate for shop.example expires in 240h, at "+now.Add(10*day).Format(time.RFC3339))}},
		},
		"LastDay": {
			reason: "within a day of its expiry it is critical",
			left:   time.Hour,
			want: Result{RecheckAfter: time.Hour, Findings: []Finding{withSeverity(expiring(time.Hour,
				"CertificateExpiring in Secret shop-tls: the certificate for shop.example expires in 1h, at "+now.Add(time.Hour).Format(time.RFC3339)), critical)}},
		},
		"Expired": {
			reason: "an expired certificate is critical",
			left:   -2 * day,
			want: Result{Findings: []Finding{withSeverity(expiring(-2*day,
				"CertificateExpired in Secret shop-tls: the certificate for shop.example expired 48h ago, at "+now.Add(-2*day).Format(time.RFC3339)), critical)}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := EvaluateTLSSecret(TLSCertificate{Secret: "shop-tls", NotAfter: now.Add(tc.left), Subject: "shop.example"}, now, cfg)
			checkInvariants(t, got)
			diffResult(t, tc.reason, tc.want, got)
		})
	}
	if got := EvaluateTLSSecret(TLSCertificate{Secret: "broken"}, now, cfg); len(got.Findings) != 0 || got.RecheckAfter != 0 {
		t.Errorf("a Secret without a parsable certificate is not judged, got %+v", got)
	}
}

func withSeverity(f Finding, s platformv1alpha1.SignalSeverity) Finding {
	f.Severity = s
	return f
}

func TestEvaluateManagedCertificate(t *testing.T) {
	cfg := DefaultConfig()
	day := 24 * time.Hour
	base := func() ManagedCertificate {
		return ManagedCertificate{
			Name: "shop", Created: now.Add(-60 * day), NotAfter: now.Add(40 * day), RenewalTime: now.Add(10 * day),
			Ready: metav1.ConditionTrue, ReadySince: now.Add(-50 * day),
		}
	}
	notRenewed := func(value, desc string) Finding {
		return finding(platformv1alpha1.SignalCertExpiring, "", value, "14.0d", desc)
	}
	cases := map[string]struct {
		reason string
		mutate func(*ManagedCertificate)
		want   Result
	}{
		"Healthy": {
			reason: "Ready, renewal ahead: looked at again at most every 12h",
			mutate: func(*ManagedCertificate) {},
			want:   Result{RecheckAfter: 12 * time.Hour},
		},
		"IssuingWithinGrace": {
			reason: "a new Certificate without a Ready condition waits the grace from its creation",
			mutate: func(c *ManagedCertificate) {
				*c = ManagedCertificate{Name: "shop", Created: now.Add(-10 * time.Minute)}
			},
			want: Result{RecheckAfter: 50 * time.Minute},
		},
		"NeverIssued": {
			reason: "not Ready for longer than the grace, with no certificate yet",
			mutate: func(c *ManagedCertificate) {
				*c = ManagedCertificate{Name: "shop", Created: now.Add(-3 * time.Hour), Ready: metav1.ConditionFalse,
					ReadySince: now.Add(-2 * time.Hour), ReadyReason: "DoesNotExist", ReadyMessage: "Issuing certificate as Secret does not exist"}
			},
			want: Result{Findings: []Finding{notRenewed("", "CertificateNotRenewed shop: not Ready for 2h (DoesNotExist: Issuing certificate as Secret does not exist)")}},
		},
		"RenewalOverdue": {
			reason: "past its renewal time by more than the grace: renewal keeps failing",
			mutate: func(c *ManagedCertificate) {
				c.RenewalTime = now.Add(-3 * time.Hour)
				c.NotAfter = now.Add(5 * day)
			},
			want: Result{Findings: []Finding{notRenewed("5.0d", "CertificateNotRenewed shop: renewal due 3h ago has not happened and expires in 120h")}},
		},
		"RenewalJustDue": {
			reason: "a renewal due ten minutes ago may be in progress",
			mutate: func(c *ManagedCertificate) { c.RenewalTime = now.Add(-10 * time.Minute) },
			want:   Result{RecheckAfter: 50 * time.Minute},
		},
		"Expired": {
			reason: "an expired certificate is critical whatever the rest says",
			mutate: func(c *ManagedCertificate) {
				c.NotAfter = now.Add(-time.Hour)
				c.RenewalTime = now.Add(-20 * day)
				c.Ready, c.ReadySince, c.ReadyReason = metav1.ConditionFalse, now.Add(-time.Hour), "Expired"
			},
			want: Result{Findings: []Finding{withSeverity(notRenewed("0.0d",
				"CertificateNotRenewed shop: not Ready for 1h (Expired), renewal due 480h ago has not happened and expired 1h ago"), critical)}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := base()
			tc.mutate(&c)
			got := EvaluateManagedCertificate(c, now, cfg)
			checkInvariants(t, got)
			diffResult(t, tc.reason, tc.want, got)
		})
	}
}

func FuzzLeafCertificate(f *testing.F) {
	f.Add(selfSigned(f, "shop.example", now))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		notAfter, _, err := LeafCertificate(data)
		if err != nil && !notAfter.IsZero() {
			t.Fatalf("an error with an expiry %s", notAfter)
		}
		// Whatever it reads, the rule must hold its invariants.
		checkInvariants(t, EvaluateTLSSecret(TLSCertificate{Secret: "s", NotAfter: notAfter}, now, DefaultConfig()))
	})
}
