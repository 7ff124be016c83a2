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

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// RedisURLEnv names an existing Redis to use instead of starting one.
const RedisURLEnv = "REDIS_URL"

// Redis is a Redis server for tests: the one in $REDIS_URL, a redis-server
// child on a free port, or a container where a Docker engine answers.
type Redis struct {
	// URL is a redis:// URL for go-redis' ParseURL.
	URL string
	// Addr is host:port.
	Addr string

	binary    string
	dir       string
	port      int
	proc      *process
	container testcontainers.Container
}

// StartRedis starts a Redis for tests in the order $REDIS_URL, a local
// redis-server, then testcontainers. dir receives the server log.
func StartRedis(ctx context.Context, dir string) (*Redis, error) {
	if raw := os.Getenv(RedisURLEnv); raw != "" {
		return &Redis{URL: raw, Addr: addrFromURL(raw)}, nil
	}
	if path, err := exec.LookPath("redis-server"); err == nil {
		return StartLocalRedis(ctx, path, dir)
	}
	return startRedisContainer(ctx)
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
// external or container Redis.
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

// Stop ends a redis-server or container this package started.
func (r *Redis) Stop() {
	if r == nil {
		return
	}
	if r.proc != nil {
		r.proc.stop(5 * time.Second)
	}
	if r.container != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = r.container.Terminate(ctx)
	}
}

func startRedisContainer(ctx context.Context) (*Redis, error) {
	provider, err := testcontainers.NewDockerProvider()
	if err != nil {
		return nil, fmt.Errorf("no redis: REDIS_URL unset, redis-server not on PATH, and no Docker: %w", err)
	}
	defer provider.Close()
	if err := provider.Health(ctx); err != nil {
		return nil, fmt.Errorf("no redis: REDIS_URL unset, redis-server not on PATH, and Docker does not answer: %w", err)
	}
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:        "redis:7.0",
			ExposedPorts: []string{"6379/tcp"},
			WaitingFor:   wait.ForListeningPort("6379/tcp"),
		},
		Started: true,
	})
	if err != nil {
		return nil, fmt.Errorf("start redis container: %w", err)
	}
	endpoint, err := c.Endpoint(ctx, "")
	if err != nil {
		_ = c.Terminate(ctx)
		return nil, fmt.Errorf("redis container endpoint: %w", err)
	}
	return &Redis{URL: "redis://" + endpoint, Addr: endpoint, container: c}, nil
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
