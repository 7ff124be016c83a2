package testenv

import (
	"context"
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

// Start (re)starts a local redis-server on its port. It is a no-op for an
// external Redis.
func (r *Redis) Start(ctx context.Context) error {
	if r.binary == "" || (r.proc != nil && !r.proc.exited()) {
		return nil
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port))
	p, err := startProcess("redis-"+strconv.Itoa(r.port), r.dir, r.binary,
		"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir)
	if err != nil {
		return err
	}
	err = p.waitFor(ctx, 10*time.Second, func(ctx context.Context) error { return redisPing(ctx, addr) })
	if err != nil {
		p.stop(time.Second)
		return fmt.Errorf("start redis-server: %w", err)
	}
	r.proc, r.Addr, r.URL = p, addr, "redis://"+addr
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

// redisPing speaks just enough RESP to know the server answers, so that
// testenv does not depend on the client library under test.
func redisPing(ctx context.Context, addr string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 7)
	n, err := conn.Read(buf)
	if err != nil {
		return err
	}
	if string(buf[:n]) != "+PONG\r\n" {
		return errors.New("unexpected PING reply " + strconv.Quote(string(buf[:n])))
	}
	return nil
}

func addrFromURL(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Host
	}
	return raw
}
