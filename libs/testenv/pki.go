package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// DefaultClientCN is the common name of the client certificate NewPKI writes.
const DefaultClientCN = "chatcli-test-client"

// pkiValidity is long enough for any test run or local demo, and short
// enough that a leaked test key is worthless soon.
const pkiValidity = 30 * 24 * time.Hour

// Leaf is a certificate and its private key, written as PEM files.
type Leaf struct {
	// CertFile holds the PEM certificate.
	CertFile string
	// KeyFile holds the PEM PKCS#8 private key (mode 0600).
	KeyFile string
	// Certificate is the parsed certificate, so tests can compare serials
	// and names with what a peer presented.
	Certificate *x509.Certificate
}

// PKI is a throwaway certificate authority for tests: a self-signed CA and
// the server and client leaves it issued, all as files in Dir.
type PKI struct {
	// Dir holds every file the PKI writes.
	Dir string
	// CAFile is the PEM CA certificate (ca.crt).
	CAFile string
	// CA is the parsed CA certificate.
	CA *x509.Certificate
	// Server is server.crt and server.key, valid for localhost, 127.0.0.1
	// and ::1.
	Server Leaf
	// Client is client.crt and client.key, with DefaultClientCN.
	Client Leaf

	caKey *ecdsa.PrivateKey
}

// NewPKI writes a new CA, a server leaf and a client leaf into dir, which
// must exist (t.TempDir() suits). Keys are ECDSA P-256.
func NewPKI(dir string) (*PKI, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "chatcli-test-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(pkiValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	p := &PKI{Dir: dir, CAFile: filepath.Join(dir, "ca.crt"), CA: ca, caKey: key}
	if err := writePEM(p.CAFile, "CERTIFICATE", der, 0o644); err != nil {
		return nil, err
	}
	server, err := p.IssueServer("server")
	if err != nil {
		return nil, err
	}
	client, err := p.IssueClient("client", DefaultClientCN)
	if err != nil {
		return nil, err
	}
	p.Server, p.Client = *server, *client
	return p, nil
}

// IssueServer writes <name>.crt and <name>.key in Dir: a server leaf with
// common name name, valid for localhost, 127.0.0.1, ::1 and any extra hosts
// (DNS names or IP addresses). Issuing "server" again overwrites
// server.crt and server.key in place, which is how a test rotates the server
// certificate (p.Server.Certificate still describes the old leaf; use the
// returned one). Each leaf gets a fresh random serial.
func (p *PKI) IssueServer(name string, hosts ...string) (*Leaf, error) {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: name},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return p.issue(name, tmpl)
}

// IssueClient writes <name>.crt and <name>.key in Dir: a client leaf whose
// subject common name is cn, the identity a server sees over mTLS.
func (p *PKI) IssueClient(name, cn string) (*Leaf, error) {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	return p.issue(name, tmpl)
}

// CertPool returns a pool holding only the CA, for tls.Config RootCAs or
// ClientCAs.
func (p *PKI) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.CA)
	return pool
}

func (p *PKI) issue(name string, tmpl *x509.Certificate) (*Leaf, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key for %q: %w", name, err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl.SerialNumber = serial
	tmpl.NotBefore = now.Add(-time.Hour)
	tmpl.NotAfter = now.Add(pkiValidity)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.BasicConstraintsValid = true
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.CA, &key.PublicKey, p.caKey)
	if err != nil {
		return nil, fmt.Errorf("create certificate %q: %w", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate %q: %w", name, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal key %q: %w", name, err)
	}
	leaf := &Leaf{
		CertFile:    filepath.Join(p.Dir, name+".crt"),
		KeyFile:     filepath.Join(p.Dir, name+".key"),
		Certificate: cert,
	}
	if err := writePEM(leaf.KeyFile, "PRIVATE KEY", keyDER, 0o600); err != nil {
		return nil, err
	}
	if err := writePEM(leaf.CertFile, "CERTIFICATE", der, 0o644); err != nil {
		return nil, err
	}
	return leaf, nil
}

// writePEM replaces path atomically (temporary file, then rename), so a
// concurrent reader sees either the old or the new file, never half of one.
func writePEM(path, blockType string, der []byte, mode os.FileMode) error {
	data := pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der})
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename %s: %w", path, err)
	}
	return nil
}

func newSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generate serial: %w", err)
	}
	return serial, nil
}
