package grpcx

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"strings"

	"github.com/go-logr/logr"
	"google.golang.org/grpc"
)

// PeerConfig is how a service reaches one peer over gRPC, set by the
// --<peer>-* flags that AddFlags registers. A caller of several peers
// holds one per peer:
//
//	var remediator, analyzer grpcx.PeerConfig
//	remediator.AddFlags(fs, "remediator")
//	analyzer.AddFlags(fs, "analyzer")
//	// after fs.Parse:
//	if err := errors.Join(remediator.Validate(), analyzer.Validate()); err != nil { ... }
//	conn, err := remediator.Dial(log)
type PeerConfig struct {
	// Peer is the name given to AddFlags; it prefixes the flags and errors.
	Peer string
	// Address is the gRPC target. For a pool of replicas behind a headless
	// Service use "dns:///<service>.<namespace>.svc:<port>" (see
	// DNSTarget): the client resolves every pod and balances calls over
	// them round_robin. "host:port" names one address.
	Address string
	// CAFile is the PEM bundle of CAs that sign the peer's certificate.
	CAFile string
	// TokenFile is the token file whose current token is sent; re-read
	// when it changes.
	TokenFile string
	// CertFile and KeyFile are the client certificate and key, for a peer
	// that requires mTLS; re-read when they change.
	CertFile string
	KeyFile  string
}

// AddFlags registers --<peer>-address, --<peer>-ca-file,
// --<peer>-token-file, --<peer>-tls-cert-file and --<peer>-tls-key-file on
// fs, and records peer. No flag has a default: the address depends on the
// namespace the platform runs in.
func (p *PeerConfig) AddFlags(fs *flag.FlagSet, peer string) {
	p.Peer = peer
	fs.StringVar(&p.Address, peer+"-address", p.Address,
		"gRPC target of the "+peer+`; for its replicas behind a headless Service use "dns:///`+peer+`.<namespace>.svc:<port>", which balances calls over every pod. Required.`)
	fs.StringVar(&p.CAFile, peer+"-ca-file", p.CAFile, "PEM CA bundle that signs the "+peer+"'s certificate. Required.")
	fs.StringVar(&p.TokenFile, peer+"-token-file", p.TokenFile,
		"File holding the bearer token sent to the "+peer+"; re-read when it changes. "+TokenFileHelp+" Required.")
	fs.StringVar(&p.CertFile, peer+"-tls-cert-file", p.CertFile, "PEM client certificate for a "+peer+" that requires mTLS; reloaded when it changes. Needs --"+peer+"-tls-key-file.")
	fs.StringVar(&p.KeyFile, peer+"-tls-key-file", p.KeyFile, "PEM private key of --"+peer+"-tls-cert-file.")
}

// TokenFileHelp describes the token-file format, for the help text of
// every flag that names a token file.
const TokenFileHelp = "One token per line, each at least 32 bytes of printable ASCII (openssl rand -hex 32): the first is the current token, which clients send; an optional second, the next token, is accepted as well during a rotation. A file that becomes empty or invalid keeps the last good token."

// Validate reports every flag of the peer that is missing or malformed.
// It reads no file: Dial does.
func (p *PeerConfig) Validate() error {
	flagName := func(name string) string { return "--" + p.Peer + "-" + name }
	var errs []error
	if p.Address == "" {
		errs = append(errs, fmt.Errorf("%s is required", flagName("address")))
	} else if err := validateTarget(p.Address); err != nil {
		errs = append(errs, fmt.Errorf("%s %q: %w", flagName("address"), p.Address, err))
	}
	if p.CAFile == "" {
		errs = append(errs, fmt.Errorf("%s is required: calls to the %s always use TLS", flagName("ca-file"), p.Peer))
	}
	if p.TokenFile == "" {
		errs = append(errs, fmt.Errorf("%s is required: the %s authenticates every call", flagName("token-file"), p.Peer))
	}
	if (p.CertFile == "") != (p.KeyFile == "") {
		errs = append(errs, fmt.Errorf("%s and %s go together", flagName("tls-cert-file"), flagName("tls-key-file")))
	}
	return errors.Join(errs...)
}

// validateTarget accepts "host:port" and "dns:///host:port" (or
// "dns://resolver/host:port").
func validateTarget(target string) error {
	endpoint := target
	if scheme, rest, ok := strings.Cut(target, "://"); ok {
		if scheme != "dns" {
			return fmt.Errorf("scheme %q is not supported: use dns:///host:port or host:port", scheme)
		}
		_, endpoint, ok = strings.Cut(rest, "/")
		if !ok {
			return errors.New(`a dns target needs three slashes: "dns:///host:port"`)
		}
	}
	host, port, err := net.SplitHostPort(endpoint)
	if err != nil || host == "" || port == "" {
		return errors.New("want host:port, such as dns:///remediator.chatcli.svc:9090")
	}
	return nil
}

// Dial validates the config and returns a client for the peer: TLS 1.3,
// the token from TokenFile re-read as it changes, keepalive and
// round_robin, as Dial does. log hears of token reloads. opts are appended
// to the dial options.
func (p *PeerConfig) Dial(log logr.Logger, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	creds, err := BearerTokenFile(p.TokenFile, log.WithValues("peer", p.Peer))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Peer, err)
	}
	conn, err := Dial(p.Address, ClientConfig{
		CAFile:   p.CAFile,
		CertFile: p.CertFile,
		KeyFile:  p.KeyFile,
		Options:  append([]grpc.DialOption{grpc.WithPerRPCCredentials(creds)}, opts...),
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Peer, err)
	}
	return conn, nil
}
