package redisx_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chatcli/aiops/libs/redisx"
)

func TestNextSequenceCountsPerDay(t *testing.T) {
	ctx := testContext(t)
	c := newClient(t, redisx.Config{})
	name := unique(t)
	day1 := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	day2 := day1.AddDate(0, 0, 1)

	steps := []struct {
		day  time.Time
		want int64
	}{
		{day1, 1},
		{day1.Add(10 * time.Hour), 2},
		{day2, 1},
		{day1, 3},
		{day2.Add(time.Hour), 2},
	}
	for i, s := range steps {
		got, err := c.NextSequence(ctx, name, s.day)
		if err != nil {
			t.Fatalf("step %d: NextSequence: %v", i, err)
		}
		if got != s.want {
			t.Errorf("step %d (%s): got %d, want %d", i, s.day.Format("20060102"), got, s.want)
		}
	}
	key := redisx.SequenceKey(name, day1)
	if want := "aiops:seq:" + name + ":20261125"; key != want {
		t.Errorf("SequenceKey: got %q, want %q", key, want)
	}
	ttl, err := c.Redis().PTTL(ctx, key).Result()
	if err != nil {
		t.Fatalf("PTTL: %v", err)
	}
	if ttl <= 0 || ttl > redisx.SequenceTTL {
		t.Errorf("sequence key TTL is %s, want within (0, %s]", ttl, redisx.SequenceTTL)
	}
}

func TestNextIncidentID(t *testing.T) {
	ctx := testContext(t)
	c := newClient(t, redisx.Config{})
	// The incident sequence name is fixed, so pick a day no other test uses
	// and compare consecutive ids rather than absolute numbers.
	now := time.Date(2099, 1, 2, 3, 4, 5, 0, time.UTC)
	first, err := c.NextIncidentID(ctx, now)
	if err != nil {
		t.Fatalf("NextIncidentID: %v", err)
	}
	second, err := c.NextIncidentID(ctx, now)
	if err != nil {
		t.Fatalf("NextIncidentID: %v", err)
	}
	var n1, n2 int64
	if _, err := fmt.Sscanf(first, "INC-20990102-%d", &n1); err != nil {
		t.Fatalf("first id %q: %v", first, err)
	}
	if _, err := fmt.Sscanf(second, "INC-20990102-%d", &n2); err != nil {
		t.Fatalf("second id %q: %v", second, err)
	}
	if n2 != n1+1 {
		t.Errorf("ids %q then %q are not consecutive", first, second)
	}
}

func TestFormatIncidentID(t *testing.T) {
	day := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := map[string]struct {
		reason string
		day    time.Time
		n      int64
		want   string
	}{
		"OneDigit":   {reason: "Numbers are padded to three digits.", day: day, n: 1, want: "INC-20261125-001"},
		"TwoDigits":  {reason: "Numbers are padded to three digits.", day: day, n: 42, want: "INC-20261125-042"},
		"ThreeDigit": {reason: "Three digits need no padding.", day: day, n: 999, want: "INC-20261125-999"},
		"FourDigits": {reason: "A busy day grows past three digits.", day: day, n: 1000, want: "INC-20261125-1000"},
		"SixDigits":  {reason: "A very busy day grows further.", day: day, n: 123456, want: "INC-20261125-123456"},
		"UTCDay": {
			reason: "The day is the UTC day, so replicas in other zones agree.",
			day:    time.Date(2026, 11, 25, 23, 30, 0, 0, time.FixedZone("EST", -5*3600)),
			n:      7,
			want:   "INC-20261126-007",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := redisx.FormatIncidentID(tc.day, tc.n); got != tc.want {
				t.Errorf("%s\nFormatIncidentID(%s, %d): got %q, want %q", tc.reason, tc.day, tc.n, got, tc.want)
			}
		})
	}
}
