package llm

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// Price is what a model costs, in US dollars per million tokens.
type Price struct {
	InputPerMTok  float64 `json:"input"`
	OutputPerMTok float64 `json:"output"`
}

// Prices maps a model name to its price; set once at start (--llm-prices).
// A model without a price costs nothing in the metrics, which is said in
// the flag's help.
var Prices = map[string]Price{}

// Cost is the estimated price of a response, by Prices.
func Cost(r Response) float64 {
	p, ok := Prices[r.Model]
	if !ok {
		return 0
	}
	return (float64(r.InputTokens)*p.InputPerMTok + float64(r.OutputTokens)*p.OutputPerMTok) / 1e6
}

// Usage is what the calls behind one answer spent: every call counts,
// repairs and failed calls included.
type Usage struct {
	InputTokens, OutputTokens int
	// CostUSD is the estimated cost by Prices.
	CostUSD float64
	// Unpriced is true when a call that spent tokens used a model without
	// a price, so that CostUSD is a lower bound.
	Unpriced bool
}

// Add counts the tokens and the cost of one call.
func (u *Usage) Add(r Response) {
	u.InputTokens += r.InputTokens
	u.OutputTokens += r.OutputTokens
	if r.InputTokens+r.OutputTokens == 0 {
		return
	}
	if _, ok := Prices[r.Model]; !ok {
		u.Unpriced = true
	}
	u.CostUSD += Cost(r)
}

var (
	providerDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "chatcli_llm_request_duration_seconds",
		Help:    "Duration of one provider call (each retry is a call), by provider, model and outcome (ok or the error kind).",
		Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120},
	}, []string{"provider", "model", "outcome"})
	providerTokens = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chatcli_llm_tokens_total",
		Help: "Tokens the providers reported, by provider, model and direction (input or output).",
	}, []string{"provider", "model", "direction"})
	providerCost = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chatcli_llm_cost_usd_total",
		Help: "Estimated cost of the provider calls in US dollars, from the price table, by provider and model.",
	}, []string{"provider", "model"})
	providerErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chatcli_llm_errors_total",
		Help: "Failed provider calls by provider, model and kind (rate_limited, server, timeout, auth, bad_request, network, empty_answer, circuit_open).",
	}, []string{"provider", "model", "kind"})
	breakerOpen = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "chatcli_llm_circuit_open",
		Help: "1 while a provider's circuit breaker refuses calls.",
	}, []string{"provider"})
)

func init() {
	metrics.Registry.MustRegister(providerDuration, providerTokens, providerCost, providerErrors, breakerOpen)
}

// modelLabel bounds the model label: models are chosen by Instances, and
// a label must not grow without bound.
func modelLabel(m string) string {
	if m == "" {
		return "default"
	}
	if len(m) > 96 {
		return m[:96]
	}
	return m
}

func observeCall(p platformv1alpha1.Provider, requested string, resp Response, err error, d time.Duration) {
	provider := string(p)
	model := modelLabel(requested)
	if resp.Model != "" {
		model = modelLabel(resp.Model)
	}
	outcome := "ok"
	if err != nil {
		outcome = string(KindOf(err))
		providerErrors.WithLabelValues(provider, model, outcome).Inc()
	}
	providerDuration.WithLabelValues(provider, model, outcome).Observe(d.Seconds())
	if resp.InputTokens > 0 {
		providerTokens.WithLabelValues(provider, model, "input").Add(float64(resp.InputTokens))
	}
	if resp.OutputTokens > 0 {
		providerTokens.WithLabelValues(provider, model, "output").Add(float64(resp.OutputTokens))
	}
	if c := Cost(resp); c > 0 {
		providerCost.WithLabelValues(provider, model).Add(c)
	}
}
