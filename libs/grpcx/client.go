package grpcx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
)

// DefaultServiceConfig spreads calls over every address the resolver
// returns; with a dns:/// target on a headless Service, that is every pod.
const DefaultServiceConfig = `{"loadBalancingConfig":[{"round_robin":{}}]}`

// clientParameters ping every 30 s, above the servers' 20 s MinTime, and
// also while no call is open, so a dead connection is found before a call
// needs it.
var clientParameters = keepalive.ClientParameters{
	Time:                30 * time.Second,
	Timeout:             5 * time.Second,
	PermitWithoutStream: true,
}

// ClientConfig configures Dial.
type ClientConfig struct {
	// CAFile is the PEM bundle of CAs that sign the servers' certificates.
	// Exactly one of CAFile and CAPEM is required.
	CAFile string
	// CAPEM is the same bundle given as bytes, for CAs read from a Secret
	// through the API rather than from a mounted file. It is not reloaded:
	// dial again to use a rotated CA.
	CAPEM []byte
	// CertFile and KeyFile are the client certificate and key for mTLS;
	// leave both empty without mTLS. They are re-read when they change.
	CertFile string
	KeyFile  string
	// CertReloadInterval is the least time between two reads of the
	// client key pair and of TokenFile; zero means
	// DefaultCertReloadInterval.
	CertReloadInterval time.Duration
	// ServerName overrides the name checked against the server certificate;
	// empty means the host of the target.
	ServerName string
	// Token is sent as "authorization: Bearer <token>" on every call. Empty
	// sends none, which only the health service accepts.
	Token string
	// TokenFile, instead of Token, is a token file (see Tokens) whose
	// current token is sent. It is re-read on a call when it changed, so a
	// rotated Secret is used without a redial or a restart; a file that
	// becomes empty or invalid keeps the last good token. Reloads are not
	// logged; to hear of them, pass BearerTokenFile's credentials in
	// Options instead (PeerConfig.Dial does).
	TokenFile string
	// Options are appended after the package's own dial options, so they
	// can add interceptors or a context dialer, or override settings.
	Options []grpc.DialOption
}

// Dial returns a client for target, used as given (see DNSTarget). Like
// grpc.NewClient it does not connect until the first call.
func Dial(target string, cfg ClientConfig) (*grpc.ClientConn, error) {
	if cfg.CAFile == "" && len(cfg.CAPEM) == 0 {
		return nil, errors.New("gRPC client needs a CAFile or CAPEM: it never runs without TLS")
	}
	if cfg.CAFile != "" && len(cfg.CAPEM) > 0 {
		return nil, errors.New("gRPC client takes a CAFile or CAPEM, not both")
	}
	if cfg.Token != "" && cfg.TokenFile != "" {
		return nil, errors.New("gRPC client takes a Token or a TokenFile, not both")
	}
	tlsConfig, err := clientTLSConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("configure gRPC client TLS for %q: %w", target, err)
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(credentials.NewTLS(tlsConfig)),
		grpc.WithKeepaliveParams(clientParameters),
		grpc.WithDefaultServiceConfig(DefaultServiceConfig),
	}
	switch {
	case cfg.Token != "":
		opts = append(opts, grpc.WithPerRPCCredentials(BearerToken(cfg.Token)))
	case cfg.TokenFile != "":
		creds, err := newTokenFileCredentials(cfg.TokenFile, cfg.CertReloadInterval, nil)
		if err != nil {
			return nil, fmt.Errorf("gRPC client for %q: %w", target, err)
		}
		opts = append(opts, grpc.WithPerRPCCredentials(creds))
	}
	conn, err := grpc.NewClient(target, append(opts, cfg.Options...)...)
	if err != nil {
		return nil, fmt.Errorf("create gRPC client for %q: %w", target, err)
	}
	return conn, nil
}

// DNSTarget returns "dns:///host:port", the target that makes the client
// resolve every address behind host (every pod of a headless Service) and
// balance over them. IPv6 literals are bracketed.
func DNSTarget(host string, port int) string {
	return "dns:///" + net.JoinHostPort(host, strconv.Itoa(port))
}

// BearerToken returns per-RPC credentials that send token as
// "authorization: Bearer <token>". They refuse to go over a connection
// without TLS, so the token never crosses the network in clear text.
func BearerToken(token string) credentials.PerRPCCredentials {
	return bearerCredentials{header: "Bearer " + token}
}

type bearerCredentials struct {
	header string
}

func (b bearerCredentials) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	if err := requirePrivacy(ctx); err != nil {
		return nil, err
	}
	return map[string]string{"authorization": b.header}, nil
}

func (b bearerCredentials) RequireTransportSecurity() bool { return true }
