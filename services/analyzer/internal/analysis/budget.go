package analysis

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"

	"github.com/chatcli/aiops/libs/llm"
	"github.com/chatcli/aiops/libs/redisx"
)

// TokenBudget caps the tokens the network providers may spend, per
// incident and per UTC day, counted in Redis so that every replica shares
// one count. A call is refused (llm.ErrBudgetExhausted, and BUILTIN
// answers) once a counter has reached its limit; a call's tokens are known
// only after it, so the last call may pass the limit, and the counter then
// stays at the limit. Without Redis the budget is not enforced: an outage
// of the counter must not stop analysis, and the tokens metric still
// counts.
type TokenBudget struct {
	Redis *redisx.Client
	// PerIncident and PerDay are token limits; 0 means none.
	PerIncident, PerDay int64
	Now                 func() time.Time
	Log                 logr.Logger
}

func (b *TokenBudget) budgets(scope string) []redisx.Budget {
	var out []redisx.Budget
	if b.PerIncident > 0 && scope != "" {
		// An incident's analysis, retries and agentic steps fall in one
		// long window: the incident's whole life.
		out = append(out, redisx.Budget{Scope: "llm-tokens:incident:" + scope, Limit: b.PerIncident, Window: 30 * 24 * time.Hour})
	}
	if b.PerDay > 0 {
		out = append(out, redisx.Budget{Scope: "llm-tokens:day", Limit: b.PerDay, Window: 24 * time.Hour})
	}
	return out
}

func (b *TokenBudget) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// Check fails with llm.ErrBudgetExhausted when a limit is reached.
func (b *TokenBudget) Check(ctx context.Context, scope string) error {
	if b == nil || b.Redis == nil {
		return nil
	}
	for _, bud := range b.budgets(scope) {
		res, err := b.Redis.BudgetUsage(ctx, bud, b.now())
		if err != nil {
			b.Log.V(1).Info("Token budget not enforced: Redis is unavailable", "error", err.Error())
			return nil
		}
		if !res.Allowed {
			return fmt.Errorf("%s: %d of %d tokens spent: %w", bud.Scope, res.Used, bud.Limit, llm.ErrBudgetExhausted)
		}
	}
	return nil
}

// Spend records a call's tokens, saturating at the limit.
func (b *TokenBudget) Spend(ctx context.Context, scope string, tokens int) {
	if b == nil || b.Redis == nil || tokens <= 0 {
		return
	}
	for _, bud := range b.budgets(scope) {
		res, err := b.Redis.SpendBudget(ctx, bud, int64(tokens), b.now())
		if err == nil && !res.Allowed && res.Remaining > 0 {
			_, err = b.Redis.SpendBudget(ctx, bud, res.Remaining, b.now())
		}
		if err != nil {
			b.Log.V(1).Info("Token spend not recorded: Redis is unavailable", "error", err.Error())
		}
	}
}
