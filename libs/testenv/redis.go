package testenv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// RedisURLEnv names an existing Redis to use instead of starting one.
const RedisURLEnv = "REDIS_URL"

// Redis is a Redis server for tests: the one in $REDIS_URL, else a
// redis-server child on a free port. Containers are for the e2e module only,
// so that no Docker client reaches the production module.
type Redis struct {
	// URL is a redis:// URL for go-redis' ParseURL.
	URL string
	// Addr is host:port.
	Addr string

	binary string
	dir    string
	port   int
	proc   *process
	// tls and password are set for a server started by StartLocalTLSRedis.
	tls      *tlsRedis
	password string
}

// tlsRedis is the TLS side of a redis-server that speaks only TLS.
type tlsRedis struct {
	pki    *PKI
	client *tls.Config
}

// StartRedis starts a Redis for tests: $REDIS_URL when set, else a local
// redis-server (Debian's redis-server package; `make redis` installs it).
// dir receives the server log.
func StartRedis(ctx context.Context, dir string) (*Redis, error) {
	if raw := os.Getenv(RedisURLEnv); raw != "" {
		return &Redis{URL: raw, Addr: addrFromURL(raw)}, nil
	}
	return StartLocalRedis(ctx, "", dir)
}

// StartLocalRedis starts redis-server on a free loopback port, keeping
// nothing on disk. Tests that stop Redis on purpose use one of their own.
func StartLocalRedis(ctx context.Context, binary, dir string) (*Redis, error) {
	if binary == "" {
		path, err := exec.LookPath("redis-server")
		if err != nil {
			return nil, fmt.Errorf("redis-server not on PATH (make test installs it with apt-get): %w", err)
		}
		binary = path
	}
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		r := &Redis{binary: binary, dir: dir, port: port}
		if lastErr = r.Start(ctx); lastErr == nil {
			return r, nil
		}
	}
	return nil, lastErr
}

// StartLocalTLSRedis starts a redis-server that speaks only TLS (1.3, with
// pki's server leaf; clients need no certificate) and requires password.
// URL is rediss://127.0.0.1:<port> without the password, which clients
// read from a file as the services do.
func StartLocalTLSRedis(ctx context.Context, dir string, pki *PKI, password string) (*Redis, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server not on PATH: %w", err)
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pki.CertPool(), ServerName: "127.0.0.1"}
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		r := &Redis{binary: path, dir: dir, port: port, tls: &tlsRedis{pki: pki, client: tlsCfg}, password: password}
		if lastErr = r.Start(ctx); lastErr == nil {
			return r, nil
		}
	}
	return nil, lastErr
}

// Start (re)starts a local redis-server on its port. It is a no-op for an
// external Redis.
func (r *Redis) Start(ctx context.Context) error {
	if r.binary == "" || (r.proc != nil && !r.proc.exited()) {
		return nil
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port))
	args := []string{"--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", r.dir}
	scheme := "redis://"
	if r.tls == nil {
		args = append(args, "--port", strconv.Itoa(r.port))
	} else {
		args = append(args, "--port", "0", "--tls-port", strconv.Itoa(r.port),
			"--tls-cert-file", r.tls.pki.Server.CertFile, "--tls-key-file", r.tls.pki.Server.KeyFile,
			"--tls-ca-cert-file", r.tls.pki.CAFile, "--tls-auth-clients", "no", "--tls-protocols", "TLSv1.3")
		scheme = "rediss://"
	}
	if r.password != "" {
		args = append(args, "--requirepass", r.password)
	}
	p, err := startProcess("redis-"+strconv.Itoa(r.port), r.dir, r.binary, args...)
	if err != nil {
		return err
	}
	err = p.waitFor(ctx, 10*time.Second, func(ctx context.Context) error { return r.ping(ctx, addr) })
	if err != nil {
		p.stop(time.Second)
		return fmt.Errorf("start redis-server: %w", err)
	}
	r.proc, r.Addr, r.URL = p, addr, scheme+addr
	return nil
}

// Stop ends a redis-server this package started.
func (r *Redis) Stop() {
	if r == nil {
		return
	}
	if r.proc != nil {
		r.proc.stop(5 * time.Second)
	}
}

// ping speaks just enough RESP to know the server answers, so that
// testenv does not depend on the client library under test.
func (r *Redis) ping(ctx context.Context, addr string) error {
	var conn net.Conn
	var err error
	if r.tls != nil {
		d := &tls.Dialer{Config: r.tls.client}
		conn, err = d.DialContext(ctx, "tcp", addr)
	} else {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	cmd, want := "PING\r\n", "+PONG\r\n"
	if r.password != "" {
		// Inline commands split on spaces, so testenv passwords have none.
		cmd, want = "AUTH "+r.password+"\r\n"+cmd, "+OK\r\n"+want
	}
	if _, err := conn.Write([]byte(cmd)); err != nil {
		return err
	}
	buf := make([]byte, 64)
	got := ""
	for len(got) < len(want) {
		n, err := conn.Read(buf)
		if err != nil {
			return err
		}
		got += string(buf[:n])
	}
	if got != want {
		return errors.New("unexpected PING reply " + strconv.Quote(got))
	}
	return nil
}

func addrFromURL(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Host
	}
	return raw
}
