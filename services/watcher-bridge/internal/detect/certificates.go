package detect

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// TLSCertificate is what certificate detection reads of a
// kubernetes.io/tls Secret: the validity of the leaf, the first
// certificate of tls.crt. The key material never reaches the detectors.
type TLSCertificate struct {
	// Secret is the Secret's name.
	Secret string
	// NotAfter is the leaf's expiry; zero when tls.crt holds no parsable
	// certificate, which is not judged.
	NotAfter time.Time
	// Subject names the leaf in descriptions: its first DNS name, else its
	// common name.
	Subject string
}

// maxCertificatePEM bounds how much of tls.crt LeafCertificate reads: a
// chain of a few certificates is a few KiB, and a Secret holds 1 MiB.
const maxCertificatePEM = 64 << 10

// LeafCertificate reads the expiry and subject of the first certificate of
// a PEM bundle (tls.crt). Blocks of other types before it are skipped.
func LeafCertificate(data []byte) (notAfter time.Time, subject string, err error) {
	if len(data) > maxCertificatePEM {
		data = data[:maxCertificatePEM]
	}
	for len(data) > 0 {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return time.Time{}, "", fmt.Errorf("parse the first certificate: %w", err)
		}
		subject = cert.Subject.CommonName
		if len(cert.DNSNames) > 0 {
			subject = cert.DNSNames[0]
		}
		return cert.NotAfter.UTC(), subject, nil
	}
	return time.Time{}, "", errors.New("no PEM CERTIFICATE block")
}

// expiresSoon is how close to its expiry a certificate is critical rather
// than high: within a day, nobody can wait for office hours.
const expiresSoon = 24 * time.Hour

// maxCertificateRecheck bounds how far ahead an evaluation asks to be
// repeated, so that a wall clock stepped forward is noticed within hours.
const maxCertificateRecheck = 12 * time.Hour

// EvaluateTLSSecret reports certificate_expiring when the Secret's
// certificate expires within CertExpiryThreshold, or has expired (then
// critical, as within a day of it). A certificate further off asks to be
// evaluated again when it enters the threshold.
func EvaluateTLSSecret(c TLSCertificate, now time.Time, cfg Config) Result {
	var r Result
	if c.NotAfter.IsZero() || cfg.CertExpiryThreshold <= 0 {
		return r
	}
	left := c.NotAfter.Sub(now)
	if left > cfg.CertExpiryThreshold {
		r.recheck(min(left-cfg.CertExpiryThreshold, maxCertificateRecheck))
		return r
	}
	subject := ""
	if c.Subject != "" {
		subject = " for " + c.Subject
	}
	if left <= 0 {
		r.add(platformv1alpha1.SignalCertExpiring, "", days(left), days(cfg.CertExpiryThreshold),
			"CertificateExpired in Secret %s: the certificate%s expired %s ago, at %s",
			c.Secret, subject, human(-left), c.NotAfter.Format(time.RFC3339))
	} else {
		r.add(platformv1alpha1.SignalCertExpiring, "", days(left), days(cfg.CertExpiryThreshold),
			"CertificateExpiring in Secret %s: the certificate%s expires in %s, at %s",
			c.Secret, subject, human(left), c.NotAfter.Format(time.RFC3339))
		// It becomes critical within a day of its expiry.
		r.recheck(min(left, maxCertificateRecheck))
	}
	if left <= expiresSoon {
		r.Findings[len(r.Findings)-1].Severity = critical
	}
	return r
}

// days prints a duration in days with one decimal, as certificate
// lifetimes are thought of: "13.5d", "-2.0d" for one that expired.
func days(d time.Duration) string {
	v := math.Round(d.Hours()/2.4) / 10
	if v == 0 {
		v = 0 // not "-0.0d"
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + "d"
}

// ManagedCertificate is what certificate detection reads of a cert-manager
// Certificate's status.
type ManagedCertificate struct {
	Name string
	// Created is the Certificate's creation time: how long one without a
	// Ready condition has waited.
	Created time.Time
	// NotAfter and RenewalTime are status.notAfter and status.renewalTime;
	// zero when not yet set.
	NotAfter, RenewalTime time.Time
	// Ready is the status of the Ready condition, empty when there is none;
	// ReadySince is its lastTransitionTime.
	Ready                     metav1.ConditionStatus
	ReadySince                time.Time
	ReadyReason, ReadyMessage string
}

// EvaluateManagedCertificate reports certificate_expiring for a cert-manager
// Certificate whose certificate has expired, that has stayed not Ready for
// CertificateGrace (it cannot be issued or renewed), or that is past its
// renewal time by CertificateGrace (renewal keeps failing). Severity is
// critical when the certificate has expired or expires within a day.
// While a grace runs, RecheckAfter is the time left.
func EvaluateManagedCertificate(c ManagedCertificate, now time.Time, cfg Config) Result {
	var r Result
	var why []string
	if c.Ready != metav1.ConditionTrue {
		since := c.ReadySince
		if c.Ready == "" || since.IsZero() {
			since = c.Created
		}
		if waited := elapsed(now, since); waited >= cfg.CertificateGrace {
			why = append(why, "not Ready for "+human(waited)+quote(c.ReadyReason, c.ReadyMessage))
		} else {
			r.recheck(cfg.CertificateGrace - waited)
		}
	}
	if !c.RenewalTime.IsZero() {
		if late := now.Sub(c.RenewalTime); late >= cfg.CertificateGrace {
			why = append(why, "renewal due "+human(late)+" ago has not happened")
		} else {
			r.recheck(min(cfg.CertificateGrace-late, maxCertificateRecheck))
		}
	}
	left := c.NotAfter.Sub(now)
	switch {
	case c.NotAfter.IsZero():
	case left <= 0:
		why = append(why, "expired "+human(-left)+" ago")
	case len(why) > 0:
		why = append(why, "expires in "+human(left))
	default:
		r.recheck(min(left, maxCertificateRecheck))
	}
	if len(why) == 0 {
		return r
	}
	value, threshold := "", days(cfg.CertExpiryThreshold)
	if !c.NotAfter.IsZero() {
		value = days(left)
	}
	r.add(platformv1alpha1.SignalCertExpiring, "", value, threshold,
		"CertificateNotRenewed %s: %s", c.Name, joinReasons(why))
	if !c.NotAfter.IsZero() && left <= expiresSoon {
		r.Findings[len(r.Findings)-1].Severity = critical
	}
	return r
}

// joinReasons lists reasons as a sentence: "a", "a and b", "a, b and c".
func joinReasons(why []string) string {
	switch len(why) {
	case 0:
		return ""
	case 1:
		return why[0]
	}
	out := why[0]
	for _, w := range why[1 : len(why)-1] {
		out += ", " + w
	}
	return out + " and " + why[len(why)-1]
}
