package actions

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// ErrUnknownAction is returned for a type outside the catalogue.
var ErrUnknownAction = errors.New("unknown action type")

// ParamError says which param is wrong and why.
type ParamError struct {
	Action platformv1alpha1.ActionType
	Param  string
	Reason string
}

func (e *ParamError) Error() string {
	return fmt.Sprintf("%s: param %q: %s", e.Action, e.Param, e.Reason)
}

// Validate checks params against the schema of t: every name known, every
// required one present, every value of its type and within its bounds.
func Validate(t platformv1alpha1.ActionType, params platformv1alpha1.ActionParams) error {
	s, ok := Lookup(t)
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownAction, t)
	}
	if len(params) > platformv1alpha1.MaxActionParams {
		return &ParamError{Action: t, Param: "", Reason: fmt.Sprintf("%d params, at most %d", len(params), platformv1alpha1.MaxActionParams)}
	}
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	slices.Sort(names) // the first error is the same every time
	for _, name := range names {
		p, ok := s.Param(name)
		if !ok {
			return &ParamError{Action: t, Param: name, Reason: "not a param of the action"}
		}
		if err := checkValue(p, params[name]); err != nil {
			return &ParamError{Action: t, Param: name, Reason: err.Error()}
		}
	}
	for _, p := range s.Params {
		if _, ok := params[p.Name]; p.Required && !ok {
			return &ParamError{Action: t, Param: p.Name, Reason: "required"}
		}
	}
	return nil
}

func checkValue(p ParamSpec, v string) error {
	if !utf8.ValidString(v) {
		return errors.New("not valid UTF-8")
	}
	switch p.Type {
	case TypeInt:
		_, err := parseInt(v, p.Min, p.Max)
		return err
	case TypeBool:
		_, err := parseBool(v)
		return err
	case TypeQuantity:
		_, err := parseQuantity(v)
		return err
	case TypeName:
		if errs := validation.IsDNS1123Subdomain(v); len(errs) > 0 {
			return errors.New(strings.Join(errs, "; "))
		}
		return nil
	case TypeEnum:
		if !slices.Contains(p.Enum, v) {
			return fmt.Errorf("%q is not one of %s", v, strings.Join(p.Enum, ", "))
		}
		return nil
	case TypeRevision:
		_, err := ParseRevision(v)
		return err
	case TypeDuration:
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > 24*time.Hour {
			return fmt.Errorf("%q is not a duration between 0 and 24h", v)
		}
		return nil
	case TypeString:
		limit := p.MaxLen
		if limit == 0 {
			limit = platformv1alpha1.MaxActionParamValueLength
		}
		if v == "" {
			return errors.New("empty")
		}
		if len(v) > limit {
			return fmt.Errorf("%d bytes, at most %d", len(v), limit)
		}
		return nil
	}
	return fmt.Errorf("param type %q has no parser", p.Type)
}

func parseInt(v string, lo, hi int64) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", v)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%d is outside [%d, %d]", n, lo, hi)
	}
	return n, nil
}

func parseBool(v string) (bool, error) {
	switch v {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("%q is not true or false", v)
}

// maxQuantity bounds quantities far above any real container (1Pi bytes,
// a million cores) so that arithmetic on them never overflows.
var maxQuantity = resource.MustParse("1Pi")

func parseQuantity(v string) (resource.Quantity, error) {
	q, err := resource.ParseQuantity(v)
	if err != nil {
		return resource.Quantity{}, fmt.Errorf("%q is not a quantity: %w", v, err)
	}
	if q.Sign() <= 0 {
		return resource.Quantity{}, fmt.Errorf("%q is not positive", v)
	}
	if q.Cmp(maxQuantity) > 0 {
		return resource.Quantity{}, fmt.Errorf("%q is larger than %s", v, maxQuantity.String())
	}
	return q, nil
}

// RevisionKind says which ReplicaSet a rollback restores.
type RevisionKind string

const (
	// RevisionPrevious is the newest revision older than the current one.
	RevisionPrevious RevisionKind = "previous"
	// RevisionHealthy is the newest older revision whose ReplicaSet was
	// fully available.
	RevisionHealthy RevisionKind = "healthy"
	// RevisionNumber is revision N.
	RevisionNumber RevisionKind = "number"
)

// Revision is a parsed toRevision.
type Revision struct {
	Kind   RevisionKind
	Number int64
}

// ParseRevision parses toRevision; empty means previous.
func ParseRevision(v string) (Revision, error) {
	switch v {
	case "", "previous":
		return Revision{Kind: RevisionPrevious}, nil
	case "healthy":
		return Revision{Kind: RevisionHealthy}, nil
	}
	n, err := parseInt(v, 1, 1<<62)
	if err != nil {
		return Revision{}, fmt.Errorf("%q is not previous, healthy or a revision number", v)
	}
	return Revision{Kind: RevisionNumber, Number: n}, nil
}

// ScaleParams are the params of a scale action.
type ScaleParams struct {
	Replicas    int32
	Containment bool
}

// ParseScale parses ScaleDeployment (or ScaleStatefulSet) params.
func ParseScale(t platformv1alpha1.ActionType, params platformv1alpha1.ActionParams) (ScaleParams, error) {
	if err := Validate(t, params); err != nil {
		return ScaleParams{}, err
	}
	n, _ := parseInt(params[ParamReplicas], 0, MaxReplicas)
	c := false
	if v, ok := params[ParamContainment]; ok {
		c, _ = parseBool(v)
	}
	return ScaleParams{Replicas: int32(n), Containment: c}, nil
}

// ParseRollback parses RollbackDeployment params.
func ParseRollback(params platformv1alpha1.ActionParams) (Revision, error) {
	if err := Validate(platformv1alpha1.ActionRollbackDeployment, params); err != nil {
		return Revision{}, err
	}
	return ParseRevision(params[ParamToRevision])
}

// ResourceParams are the params of an Adjust*Resources action; a nil
// field is left as it is.
type ResourceParams struct {
	Container                  string
	MemoryRequest, MemoryLimit *resource.Quantity
	CPURequest, CPULimit       *resource.Quantity
}

// ParseResources parses AdjustResources params. At least one quantity is
// needed, and a limit given with its request is at least the request.
func ParseResources(t platformv1alpha1.ActionType, params platformv1alpha1.ActionParams) (ResourceParams, error) {
	if err := Validate(t, params); err != nil {
		return ResourceParams{}, err
	}
	rp := ResourceParams{Container: params[ParamContainer]}
	for name, dst := range map[string]**resource.Quantity{
		ParamMemoryRequest: &rp.MemoryRequest, ParamMemoryLimit: &rp.MemoryLimit,
		ParamCPURequest: &rp.CPURequest, ParamCPULimit: &rp.CPULimit,
	} {
		if v, ok := params[name]; ok {
			q, _ := parseQuantity(v)
			*dst = &q
		}
	}
	if rp.MemoryRequest == nil && rp.MemoryLimit == nil && rp.CPURequest == nil && rp.CPULimit == nil {
		return ResourceParams{}, &ParamError{Action: t, Param: ParamMemoryLimit, Reason: "at least one of memory_request, memory_limit, cpu_request, cpu_limit is required"}
	}
	if rp.MemoryRequest != nil && rp.MemoryLimit != nil && rp.MemoryLimit.Cmp(*rp.MemoryRequest) < 0 {
		return ResourceParams{}, &ParamError{Action: t, Param: ParamMemoryLimit, Reason: "below memory_request"}
	}
	if rp.CPURequest != nil && rp.CPULimit != nil && rp.CPULimit.Cmp(*rp.CPURequest) < 0 {
		return ResourceParams{}, &ParamError{Action: t, Param: ParamCPULimit, Reason: "below cpu_request"}
	}
	return rp, nil
}

// ConfigParams are the params of PatchConfig.
type ConfigParams struct {
	ConfigMap, Key, Value string
}

// ParsePatchConfig parses PatchConfig params; the key must be a valid
// ConfigMap key.
func ParsePatchConfig(params platformv1alpha1.ActionParams) (ConfigParams, error) {
	if err := Validate(platformv1alpha1.ActionPatchConfig, params); err != nil {
		return ConfigParams{}, err
	}
	if errs := validation.IsConfigMapKey(params[ParamKey]); len(errs) > 0 {
		return ConfigParams{}, &ParamError{Action: platformv1alpha1.ActionPatchConfig, Param: ParamKey, Reason: strings.Join(errs, "; ")}
	}
	return ConfigParams{ConfigMap: params[ParamConfigMap], Key: params[ParamKey], Value: params[ParamValue]}, nil
}

// ParseDeletePod parses DeletePod params; an empty pod means the executor
// picks the pod with the most restarts.
func ParseDeletePod(params platformv1alpha1.ActionParams) (string, error) {
	if err := Validate(platformv1alpha1.ActionDeletePod, params); err != nil {
		return "", err
	}
	return params[ParamPod], nil
}

// jobSettingParams names the one param of each Job setting action.
var jobSettingParams = map[platformv1alpha1.ActionType]string{
	platformv1alpha1.ActionAdjustJobParallelism:  ParamParallelism,
	platformv1alpha1.ActionAdjustJobDeadline:     ParamActiveDeadlineSeconds,
	platformv1alpha1.ActionAdjustJobBackoffLimit: ParamBackoffLimit,
}

// ParseJobSetting parses the params of AdjustJobParallelism,
// AdjustJobDeadline and AdjustJobBackoffLimit: the name of the spec field
// the action sets and its new value, within the catalogue's bounds.
func ParseJobSetting(t platformv1alpha1.ActionType, params platformv1alpha1.ActionParams) (string, int64, error) {
	name, ok := jobSettingParams[t]
	if !ok {
		return "", 0, fmt.Errorf("%s does not set a Job field: %w", t, ErrNotImplemented)
	}
	if err := Validate(t, params); err != nil {
		return "", 0, err
	}
	s, _ := Lookup(t)
	p, _ := s.Param(name)
	v, _ := parseInt(params[name], p.Min, p.Max)
	return name, v, nil
}

// Parse checks params against the schema and, for the implemented
// actions, the rules between params that the schema cannot say.
func Parse(t platformv1alpha1.ActionType, params platformv1alpha1.ActionParams) error {
	var err error
	switch t {
	case platformv1alpha1.ActionScaleDeployment, platformv1alpha1.ActionScaleStatefulSet:
		_, err = ParseScale(t, params)
	case platformv1alpha1.ActionRollbackDeployment:
		_, err = ParseRollback(params)
	case platformv1alpha1.ActionAdjustResources, platformv1alpha1.ActionAdjustJobResources:
		_, err = ParseResources(t, params)
	case platformv1alpha1.ActionPatchConfig:
		_, err = ParsePatchConfig(params)
	case platformv1alpha1.ActionDeletePod:
		_, err = ParseDeletePod(params)
	case platformv1alpha1.ActionAdjustJobParallelism, platformv1alpha1.ActionAdjustJobDeadline, platformv1alpha1.ActionAdjustJobBackoffLimit:
		_, _, err = ParseJobSetting(t, params)
	default:
		err = Validate(t, params)
	}
	return err
}
