package restapi

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The API keys live in one Secret of the platform namespace:
//
//	kubectl -n <platform> create secret generic chatcli-operator-secrets \
//	  --from-literal=api-keys="$(printf '%s\n' \
//	     'oncall:operator:'"$(openssl rand -hex 32)" \
//	     'grafana:viewer:sha256:<64 hex digits of the key's SHA-256>')"
//
// Its data key "api-keys" holds one key per line, "<key-id>:<role>:<key>".
// The key id names the caller in the audit log and on the Issues it acts
// on; the role is viewer, operator or admin; the key is at least
// MinKeyLength characters, or "sha256:" and the hex SHA-256 of the key so
// that the Secret need not hold the key itself. Blank lines and lines
// starting with # are skipped. A line that does not parse, a second line
// with a key id or a key already seen, grants nothing and is logged (by
// line number and key id, never the key).
const (
	// DefaultSecretName is the seed's name of the Secret.
	DefaultSecretName = "chatcli-operator-secrets"
	// SecretDataKey is the key of the Secret's data that holds the keys.
	SecretDataKey = "api-keys"
	// MinKeyLength is the shortest key accepted: 32 hex digits are 128
	// bits.
	MinKeyLength = 32
)

// Role is what a key may do. Each role may do what the ones below it may.
type Role int

// The roles, least first.
const (
	RoleNone Role = iota
	// RoleViewer reads incidents.
	RoleViewer
	// RoleOperator also acknowledges, resolves and escalates them.
	RoleOperator
	// RoleAdmin may do everything.
	RoleAdmin
)

var roleNames = map[string]Role{"viewer": RoleViewer, "operator": RoleOperator, "admin": RoleAdmin}

func (r Role) String() string {
	for name, role := range roleNames {
		if role == r {
			return name
		}
	}
	return "none"
}

var keyIDPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$`)

type apiKey struct {
	id   string
	role Role
	hash [sha256.Size]byte
}

// Keys is one parsed set of API keys.
type Keys struct {
	keys []apiKey
}

// ParseKeys parses the "api-keys" data. It returns the keys of the lines
// that parse and one problem per line that does not.
func ParseKeys(data string) (*Keys, []string) {
	out := &Keys{}
	var problems []string
	ids, hashes := map[string]bool{}, map[[sha256.Size]byte]bool{}
	sc := bufio.NewScanner(strings.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, rest, _ := strings.Cut(line, ":")
		roleName, secret, ok := strings.Cut(rest, ":")
		if !ok {
			problems = append(problems, fmt.Sprintf("line %d: not <key-id>:<role>:<key>", n))
			continue
		}
		if !keyIDPattern.MatchString(id) {
			problems = append(problems, fmt.Sprintf("line %d: key id is not 1-63 lowercase letters, digits, '.', '_' or '-'", n))
			continue
		}
		role, known := roleNames[roleName]
		if !known {
			problems = append(problems, fmt.Sprintf("line %d (key id %s): role %q is not viewer, operator or admin", n, id, truncate(roleName, 32)))
			continue
		}
		hash, err := keyHash(secret)
		if err != nil {
			problems = append(problems, fmt.Sprintf("line %d (key id %s): %v", n, id, err))
			continue
		}
		if ids[id] || hashes[hash] {
			problems = append(problems, fmt.Sprintf("line %d (key id %s): the key id or the key is already used by an earlier line", n, id))
			continue
		}
		ids[id], hashes[hash] = true, true
		out.keys = append(out.keys, apiKey{id: id, role: role, hash: hash})
	}
	if err := sc.Err(); err != nil {
		problems = append(problems, "reading the keys: "+err.Error())
	}
	return out, problems
}

func keyHash(secret string) ([sha256.Size]byte, error) {
	var hash [sha256.Size]byte
	if hexSum, ok := strings.CutPrefix(secret, "sha256:"); ok {
		raw, err := hex.DecodeString(hexSum)
		if err != nil || len(raw) != sha256.Size {
			return hash, fmt.Errorf("sha256: needs 64 hex digits")
		}
		copy(hash[:], raw)
		return hash, nil
	}
	if len(secret) < MinKeyLength {
		return hash, fmt.Errorf("the key is shorter than %d characters", MinKeyLength)
	}
	return sha256.Sum256([]byte(secret)), nil
}

// Len is the number of keys.
func (k *Keys) Len() int {
	if k == nil {
		return 0
	}
	return len(k.keys)
}

// Lookup returns the key id and role of key. It hashes the key and compares
// the hash with every stored one in constant time, without stopping at a
// match, so neither the key nor its position leaks through timing.
func (k *Keys) Lookup(key string) (id string, role Role, ok bool) {
	if k == nil || key == "" {
		return "", RoleNone, false
	}
	sum := sha256.Sum256([]byte(key))
	for i := range k.keys {
		if subtle.ConstantTimeCompare(sum[:], k.keys[i].hash[:]) == 1 {
			id, role, ok = k.keys[i].id, k.keys[i].role, true
		}
	}
	return id, role, ok
}

// KeySource holds the current keys and reloads them from the Secret. Until
// the first load, and while the Secret does not exist, it holds none: no
// key, no access.
type KeySource struct {
	// Reader reads the Secret (the manager's API reader: Secrets are not
	// cached).
	Reader client.Reader
	// Secret names the Secret.
	Secret client.ObjectKey
	// Interval between two reads; the first read is at Start.
	Interval time.Duration
	Log      logr.Logger

	current atomic.Pointer[Keys]
	// lastProblem is what the last read logged, so that a Secret that
	// stays broken is logged once, not every Interval.
	lastProblem string
	version     string
}

// Keys returns the current keys; nil when none are loaded.
func (s *KeySource) Keys() *Keys { return s.current.Load() }

// Set replaces the keys, for a source that is not a Secret.
func (s *KeySource) Set(k *Keys) { s.current.Store(k) }

// Load reads the Secret once. A missing Secret, or one without the data
// key, leaves no key; an error reading it keeps the keys there were.
func (s *KeySource) Load(ctx context.Context) error {
	secret := &corev1.Secret{}
	err := s.Reader.Get(ctx, s.Secret, secret)
	switch {
	case apierrors.IsNotFound(err):
		s.current.Store(&Keys{})
		s.version = ""
		s.report("The API key Secret does not exist: the incident REST API refuses every request", "secret", s.Secret.String())
		return nil
	case err != nil:
		return fmt.Errorf("read API key Secret %s: %w", s.Secret, err)
	}
	if secret.ResourceVersion == s.version && s.current.Load() != nil {
		return nil
	}
	keys, problems := ParseKeys(string(secret.Data[SecretDataKey]))
	s.current.Store(keys)
	s.version = secret.ResourceVersion
	for _, p := range problems {
		s.Log.Error(nil, "Skipped an API key line", "secret", s.Secret.String(), "problem", p)
	}
	if keys.Len() == 0 {
		s.report("The API key Secret holds no usable key: the incident REST API refuses every request", "secret", s.Secret.String(), "dataKey", SecretDataKey)
		return nil
	}
	s.lastProblem = ""
	s.Log.Info("Loaded the API keys", "secret", s.Secret.String(), "keys", keys.Len(), "resourceVersion", secret.ResourceVersion)
	return nil
}

func (s *KeySource) report(msg string, kv ...any) {
	if s.lastProblem == msg {
		return
	}
	s.lastProblem = msg
	s.Log.Error(nil, msg, kv...)
}

// Start loads the keys, then reloads them every Interval until ctx ends;
// it runs on every replica.
func (s *KeySource) Start(ctx context.Context) error {
	interval := s.Interval
	if interval <= 0 {
		interval = 10 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.Load(ctx); err != nil && ctx.Err() == nil {
			s.Log.Error(err, "Kept the previous API keys")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// NeedLeaderElection is false: every replica serves the API.
func (s *KeySource) NeedLeaderElection() bool { return false }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
