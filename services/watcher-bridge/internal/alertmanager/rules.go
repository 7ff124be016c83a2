package alertmanager

import (
	"errors"
	"fmt"
	"regexp"

	"sigs.k8s.io/yaml"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// Config says how alerts become signals. Operators write it in YAML:
//
//	# Rules are tried in order; the first match wins. Operator rules come
//	# before the built-in DefaultRules, so they can override them.
//	rules:
//	  - alertname: CheckoutErrorsHigh      # exact alertname
//	    signalType: error_rate
//	  - alertnameRegex: 'Payments.*Slow'   # RE2, anchored at both ends
//	    signalType: latency
//	# Set to true to use only the rules above.
//	disableDefaultRules: false
//
// Each rule has exactly one of alertname and alertnameRegex, and a
// signalType from the platform's catalogue (error_rate, latency, ...).
// Whatever the rules say, an alert's own signal_type label wins.
type Config struct {
	Rules               []Rule `json:"rules,omitempty"`
	DisableDefaultRules bool   `json:"disableDefaultRules,omitempty"`
}

// Rule maps alerts by name to a signal type.
type Rule struct {
	Alertname      string                      `json:"alertname,omitempty"`
	AlertnameRegex string                      `json:"alertnameRegex,omitempty"`
	SignalType     platformv1alpha1.SignalType `json:"signalType"`
}

// ParseConfig reads a YAML (or JSON) Config. Unknown fields are errors, so
// that a misspelt key does not silently drop a rule.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return Config{}, fmt.Errorf("parse alert mapping config: %w", err)
	}
	return c, nil
}

// DefaultRules map the alert names of the Kubernetes monitoring mixin
// (kube-prometheus) and common naming patterns. Only alerts whose labels
// name the workload that is at fault are mapped; cluster-wide alerts such
// as overcommit or API server errors are left out on purpose.
func DefaultRules() []Rule {
	return []Rule{
		{Alertname: "HighErrorRate", SignalType: platformv1alpha1.SignalErrorRate},
		{AlertnameRegex: `.*ErrorRateHigh|High.*ErrorRate`, SignalType: platformv1alpha1.SignalErrorRate},
		{Alertname: "HighLatency", SignalType: platformv1alpha1.SignalLatency},
		{AlertnameRegex: `.*LatencyHigh|High.*Latency`, SignalType: platformv1alpha1.SignalLatency},
		{Alertname: "KubePodCrashLooping", SignalType: platformv1alpha1.SignalCrashLoopBackOff},
		{Alertname: "KubePodNotReady", SignalType: platformv1alpha1.SignalPodNotReady},
		{Alertname: "KubeDeploymentReplicasMismatch", SignalType: platformv1alpha1.SignalDeployFailing},
		{Alertname: "KubeDeploymentRolloutStuck", SignalType: platformv1alpha1.SignalDeployFailing},
		{Alertname: "KubeStatefulSetReplicasMismatch", SignalType: platformv1alpha1.SignalDeployFailing},
		{Alertname: "KubeDaemonSetRolloutStuck", SignalType: platformv1alpha1.SignalDeployFailing},
		{Alertname: "KubeJobFailed", SignalType: platformv1alpha1.SignalJobFailed},
		{Alertname: "KubeHpaMaxedOut", SignalType: platformv1alpha1.SignalHPAMaxed},
		{Alertname: "KubeNodeNotReady", SignalType: platformv1alpha1.SignalNodeNotReady},
		{Alertname: "KubeNodeUnreachable", SignalType: platformv1alpha1.SignalNodeNotReady},
		{Alertname: "KubeletTooManyPods", SignalType: platformv1alpha1.SignalPodCapacityHigh},
		{Alertname: "CPUThrottlingHigh", SignalType: platformv1alpha1.SignalCPUHigh},
		{AlertnameRegex: `.*CPU(Usage)?High|HighCPU(Usage)?`, SignalType: platformv1alpha1.SignalCPUHigh},
		{AlertnameRegex: `.*Memory(Usage)?High|HighMemory(Usage)?`, SignalType: platformv1alpha1.SignalMemoryHigh},
		{AlertnameRegex: `.*OOMKill(ed|s)?`, SignalType: platformv1alpha1.SignalOOMKill},
		{AlertnameRegex: `.*Cert(ificate)?(Expiry|Expiring|Expiration|Expires).*`, SignalType: platformv1alpha1.SignalCertExpiring},
	}
}

// Mapper turns alerts into signals. It is safe for concurrent use.
type Mapper struct {
	rules []compiledRule
}

type compiledRule struct {
	exact      string
	re         *regexp.Regexp
	signalType platformv1alpha1.SignalType
}

func (r compiledRule) matches(alertname string) bool {
	if r.re != nil {
		return r.re.MatchString(alertname)
	}
	return r.exact == alertname
}

// NewMapper checks and compiles the config's rules, followed by the
// DefaultRules unless they are disabled.
func NewMapper(c Config) (*Mapper, error) {
	rules := c.Rules
	if !c.DisableDefaultRules {
		rules = append(append([]Rule(nil), c.Rules...), DefaultRules()...)
	}
	m := &Mapper{rules: make([]compiledRule, 0, len(rules))}
	var errs []error
	for i, r := range rules {
		cr, err := compileRule(r)
		if err != nil {
			errs = append(errs, fmt.Errorf("rules[%d]: %w", i, err))
			continue
		}
		m.rules = append(m.rules, cr)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("invalid alert mapping rules: %w", err)
	}
	return m, nil
}

func compileRule(r Rule) (compiledRule, error) {
	if !r.SignalType.IsValid() {
		return compiledRule{}, fmt.Errorf("signalType %q is not a known signal type", r.SignalType)
	}
	switch {
	case r.Alertname != "" && r.AlertnameRegex != "":
		return compiledRule{}, errors.New("set alertname or alertnameRegex, not both")
	case r.Alertname != "":
		return compiledRule{exact: r.Alertname, signalType: r.SignalType}, nil
	case r.AlertnameRegex != "":
		// Anchored, so that "Latency" does not match "NoLatencyData".
		re, err := regexp.Compile(`^(?:` + r.AlertnameRegex + `)$`)
		if err != nil {
			return compiledRule{}, fmt.Errorf("alertnameRegex: %w", err)
		}
		return compiledRule{re: re, signalType: r.SignalType}, nil
	default:
		return compiledRule{}, errors.New("alertname or alertnameRegex is required")
	}
}

// signalTypeFor finds the first rule that matches the alert name.
func (m *Mapper) signalTypeFor(alertname string) (platformv1alpha1.SignalType, bool) {
	for _, r := range m.rules {
		if r.matches(alertname) {
			return r.signalType, true
		}
	}
	return "", false
}
