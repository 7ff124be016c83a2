package redisx

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// IncidentSequence is the sequence behind incident ids (aiops:seq:inc:<day>).
const IncidentSequence = "inc"

// SequenceTTL keeps a day's counter for a few days: long enough that a
// replica whose clock lags past midnight still finds it, short enough that
// old days clean themselves up.
const SequenceTTL = 4 * 24 * time.Hour

// seqScript increments KEYS[1] and sets its expiry (ARGV[1] ms) once, when
// the key has none, so later increments do not push the expiry out.
var seqScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n
`)

// NextSequence returns the next number (1, 2, ...) of the sequence name for
// the UTC day of day. Numbers are unique per day; a lost reply may leave a
// gap.
func (c *Client) NextSequence(ctx context.Context, name string, day time.Time) (int64, error) {
	if err := validateToken("sequence name", name); err != nil {
		return 0, err
	}
	key := SequenceKey(name, day)
	n, err := seqScript.Run(ctx, c.rdb, []string{key}, SequenceTTL.Milliseconds()).Int64()
	if err != nil {
		return 0, wrapErr("increment sequence "+key, err)
	}
	return n, nil
}

// NextIncidentID returns a new id INC-YYYYMMDD-NNN for the UTC day of now.
func (c *Client) NextIncidentID(ctx context.Context, now time.Time) (string, error) {
	n, err := c.NextSequence(ctx, IncidentSequence, now)
	if err != nil {
		return "", err
	}
	return FormatIncidentID(now, n), nil
}

// FormatIncidentID formats INC-YYYYMMDD-NNN for the UTC day of day, with at
// least three digits and more once a day passes 999 incidents.
func FormatIncidentID(day time.Time, n int64) string {
	return fmt.Sprintf("INC-%s-%03d", day.UTC().Format("20060102"), n)
}
