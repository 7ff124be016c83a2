package scrub

import (
	"strings"
	"testing"
)

// benchLog is a realistic mix: mostly plain log lines, some with secrets.
var benchLog = func() string {
	lines := []string{
		`2026-12-01T10:00:00.123Z INFO  http request method=GET path=/api/v1/orders/42 status=200 duration_ms=12 trace_id=4bf92f3577b34da6`,
		`2026-12-01T10:00:00.456Z ERROR failed to connect to postgres://app:s3cret@db.prod:5432/orders: connection refused`,
		`2026-12-01T10:00:01.000Z WARN  retrying request to 10.42.0.17:8080 attempt=3 backoff=200ms`,
		`2026-12-01T10:00:01.500Z DEBUG Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U`,
		`2026-12-01T10:00:02.000Z INFO  user signed in email=jane.doe@example.com session=7c9e6679`,
		`{"level":"error","ts":1733047202,"msg":"Reconciler error","controller":"deployment","name":"web","namespace":"default","error":"context deadline exceeded"}`,
		`2026-12-01T10:00:03.000Z INFO  java.lang.OutOfMemoryError: Java heap space at com.example.orders.OrderService.process(OrderService.java:128)`,
		`2026-12-01T10:00:04.000Z INFO  cache warmed entries=12345 size=2.1MiB took=1.2s`,
	}
	var b strings.Builder
	for b.Len() < 1<<20 {
		for _, l := range lines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}()

func BenchmarkScrub(b *testing.B) {
	s := Default()
	b.SetBytes(int64(len(benchLog)))
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Scrub(benchLog)
	}
}

func BenchmarkScrubPlain(b *testing.B) {
	plain := strings.Repeat("2026-12-01T10:00:04.000Z INFO cache warmed entries=12345 took=1.2s\n", 16000)
	s := Default()
	b.SetBytes(int64(len(plain)))
	for b.Loop() {
		_ = s.Scrub(plain)
	}
}
