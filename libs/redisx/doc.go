// Package redisx holds the platform's short-lived coordination state in
// Redis: dedup keys, locks with fencing, daily sequences and budget counters.
//
// Every key lives under the prefix "aiops:" (see ARCHITECTURE.md):
//
//	aiops:dedup:<hash>                        signal seen, value = Anomaly name, PX = dedup TTL
//	aiops:dedup:res:<kind>/<ns>/<name>        set of the dedup hashes of one resource
//	aiops:lock:<purpose>:<kind>/<ns>/<name>   lock, value = random token, PX = lock TTL
//	aiops:fence:<purpose>:<kind>/<ns>/<name>  fencing counter of that lock (never expires)
//	aiops:seq:<name>:<yyyymmdd>               daily sequence, e.g. seq:inc:20261125
//	aiops:budget:<scope>:<window-start>       fixed-window budget counter
//
// Redis is not durable state here: when it is unreachable, calls fail fast
// (bounded timeouts, one retry) with an error that matches ErrUnavailable,
// so that callers can fall back (dedup) or fail closed (locks). redis.Nil is
// never reported as unavailable.
//
// Multi-key Lua scripts assume one Redis server (or a primary with
// replicas), not Redis Cluster: the dedup index script touches keys it
// cannot declare up front.
//
// The client retries a command whose reply was lost, so every script is
// written to be safe to replay: a replayed lock acquire returns the same
// fence, a replayed budget spend can only over-count (refusing earlier, never
// later), and a replayed sequence increment leaves a gap.
package redisx
