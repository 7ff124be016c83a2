package actions

import (
	"errors"
	"testing"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

func TestTheCatalogueHasEveryActionOnce(t *testing.T) {
	want := append(append([]platformv1alpha1.ActionType{}, platformv1alpha1.ExecutableActions...), platformv1alpha1.ActionCustom)
	got := Catalogue()
	if len(got) != len(want) || len(got) != 55 {
		t.Fatalf("catalogue has %d actions, want %d", len(got), len(want))
	}
	implementedCount := 0
	for i, s := range got {
		if s.Type != want[i] {
			t.Errorf("catalogue[%d] = %s, want %s", i, s.Type, want[i])
		}
		if s.Description == "" || s.Class == "" {
			t.Errorf("%s has no description or class", s.Type)
		}
		if s.Implemented {
			implementedCount++
		}
		for _, p := range s.Params {
			if p.Type == TypeEnum && len(p.Enum) == 0 || p.Type == TypeInt && p.Min > p.Max {
				t.Errorf("%s param %s has a broken schema", s.Type, p.Name)
			}
		}
	}
	if implementedCount != 13 {
		t.Errorf("%d implemented actions, want the 6 Deployment and the 7 Job ones", implementedCount)
	}
	if s, _ := Lookup(platformv1alpha1.ActionCustom); s.Implemented {
		t.Error("Custom must never be implemented")
	}
}

func TestParse(t *testing.T) {
	type P = platformv1alpha1.ActionParams
	for _, tc := range []struct {
		name   string
		action platformv1alpha1.ActionType
		params P
		// wantParam is the param the error names; empty means no error.
		wantParam string
	}{
		{"scale", platformv1alpha1.ActionScaleDeployment, P{"replicas": "4"}, ""},
		{"scale to zero as containment", platformv1alpha1.ActionScaleDeployment, P{"replicas": "0", "containment": "true"}, ""},
		{"scale without replicas", platformv1alpha1.ActionScaleDeployment, P{}, "replicas"},
		{"scale negative", platformv1alpha1.ActionScaleDeployment, P{"replicas": "-1"}, "replicas"},
		{"scale too many", platformv1alpha1.ActionScaleDeployment, P{"replicas": "1001"}, "replicas"},
		{"scale not a number", platformv1alpha1.ActionScaleDeployment, P{"replicas": "four"}, "replicas"},
		{"scale bad bool", platformv1alpha1.ActionScaleDeployment, P{"replicas": "1", "containment": "yes"}, "containment"},
		{"unknown param", platformv1alpha1.ActionRestartDeployment, P{"force": "true"}, "force"},
		{"rollback default", platformv1alpha1.ActionRollbackDeployment, nil, ""},
		{"rollback healthy", platformv1alpha1.ActionRollbackDeployment, P{"toRevision": "healthy"}, ""},
		{"rollback number", platformv1alpha1.ActionRollbackDeployment, P{"toRevision": "3"}, ""},
		{"rollback zero", platformv1alpha1.ActionRollbackDeployment, P{"toRevision": "0"}, "toRevision"},
		{"rollback word", platformv1alpha1.ActionRollbackDeployment, P{"toRevision": "latest"}, "toRevision"},
		{"resources", platformv1alpha1.ActionAdjustResources, P{"memory_limit": "1Gi", "memory_request": "512Mi"}, ""},
		{"resources none", platformv1alpha1.ActionAdjustResources, P{"container": "app"}, "memory_limit"},
		{"resources limit below request", platformv1alpha1.ActionAdjustResources, P{"memory_limit": "256Mi", "memory_request": "512Mi"}, "memory_limit"},
		{"cpu limit below request", platformv1alpha1.ActionAdjustResources, P{"cpu_limit": "100m", "cpu_request": "1"}, "cpu_limit"},
		{"resources negative", platformv1alpha1.ActionAdjustResources, P{"cpu_limit": "-1"}, "cpu_limit"},
		{"resources huge", platformv1alpha1.ActionAdjustResources, P{"memory_limit": "2Ei"}, "memory_limit"},
		{"resources garbage", platformv1alpha1.ActionAdjustResources, P{"memory_limit": "lots"}, "memory_limit"},
		{"container name", platformv1alpha1.ActionAdjustResources, P{"container": "Not_A_Name", "cpu_limit": "1"}, "container"},
		{"delete pod", platformv1alpha1.ActionDeletePod, P{"pod": "api-7c9-x"}, ""},
		{"delete any pod", platformv1alpha1.ActionDeletePod, nil, ""},
		{"patch config", platformv1alpha1.ActionPatchConfig, P{"configmap": "app", "key": "LOG_LEVEL", "value": "debug"}, ""},
		{"patch config bad key", platformv1alpha1.ActionPatchConfig, P{"configmap": "app", "key": "a/b", "value": "x"}, "key"},
		{"patch config no value", platformv1alpha1.ActionPatchConfig, P{"configmap": "app", "key": "k"}, "value"},
		{"retry job", platformv1alpha1.ActionRetryJob, nil, ""},
		{"retry job takes no param", platformv1alpha1.ActionRetryJob, P{"force": "true"}, "force"},
		{"suspend job", platformv1alpha1.ActionSuspendJob, nil, ""},
		{"resume job takes no param", platformv1alpha1.ActionResumeJob, P{"now": "true"}, "now"},
		{"job resources", platformv1alpha1.ActionAdjustJobResources, P{"memory_limit": "1Gi"}, ""},
		{"job resources none", platformv1alpha1.ActionAdjustJobResources, nil, "memory_limit"},
		{"job resources limit below request", platformv1alpha1.ActionAdjustJobResources, P{"memory_limit": "128Mi", "memory_request": "1Gi"}, "memory_limit"},
		{"parallelism", platformv1alpha1.ActionAdjustJobParallelism, P{"parallelism": "3"}, ""},
		{"parallelism zero", platformv1alpha1.ActionAdjustJobParallelism, P{"parallelism": "0"}, ""},
		{"parallelism missing", platformv1alpha1.ActionAdjustJobParallelism, nil, "parallelism"},
		{"parallelism too many", platformv1alpha1.ActionAdjustJobParallelism, P{"parallelism": "1001"}, "parallelism"},
		{"parallelism under another name", platformv1alpha1.ActionAdjustJobParallelism, P{"replicas": "2"}, "replicas"},
		{"deadline", platformv1alpha1.ActionAdjustJobDeadline, P{"activeDeadlineSeconds": "600"}, ""},
		{"deadline zero", platformv1alpha1.ActionAdjustJobDeadline, P{"activeDeadlineSeconds": "0"}, "activeDeadlineSeconds"},
		{"deadline above a week", platformv1alpha1.ActionAdjustJobDeadline, P{"activeDeadlineSeconds": "604801"}, "activeDeadlineSeconds"},
		{"deadline as a duration", platformv1alpha1.ActionAdjustJobDeadline, P{"activeDeadlineSeconds": "10m"}, "activeDeadlineSeconds"},
		{"backoff limit", platformv1alpha1.ActionAdjustJobBackoffLimit, P{"backoffLimit": "0"}, ""},
		{"backoff limit negative", platformv1alpha1.ActionAdjustJobBackoffLimit, P{"backoffLimit": "-1"}, "backoffLimit"},
		{"backoff limit above 100", platformv1alpha1.ActionAdjustJobBackoffLimit, P{"backoffLimit": "101"}, "backoffLimit"},
		{"enum", platformv1alpha1.ActionUpdateStatefulSetStrategy, P{"strategy": "Sometimes"}, "strategy"},
		{"duration", platformv1alpha1.ActionDrainNode, P{"timeout": "forever"}, "timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Parse(tc.action, tc.params)
			var pe *ParamError
			switch {
			case tc.wantParam == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantParam != "" && !errors.As(err, &pe):
				t.Fatalf("want a ParamError on %s, got %v", tc.wantParam, err)
			case tc.wantParam != "" && pe.Param != tc.wantParam:
				t.Fatalf("error names %q, want %q: %v", pe.Param, tc.wantParam, err)
			}
		})
	}
	if err := Parse("Reboot", nil); !errors.Is(err, ErrUnknownAction) {
		t.Fatalf("unknown type: %v", err)
	}
}

func TestSnapshotsRoundTripAndCompress(t *testing.T) {
	big := make([]byte, 40000)
	for i := range big {
		big[i] = 'a' + byte(i%3)
	}
	in := map[string]string{"v": string(big)}
	s, err := encodeSnapshot(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) > maxSnapshot || s[:3] != gzipPrefix {
		t.Fatalf("snapshot of %d bytes not compressed", len(s))
	}
	var out map[string]string
	if err := decodeSnapshot(s, &out); err != nil || out["v"] != in["v"] {
		t.Fatalf("round trip: %v", err)
	}
}

// FuzzParse feeds arbitrary params to every parser: none may panic, and
// whatever a typed parser accepts must be within the schema's bounds.
func FuzzParse(f *testing.F) {
	f.Add(0, "replicas", "4", "containment", "true")
	f.Add(2, "toRevision", "healthy", "", "")
	f.Add(3, "memory_limit", "1Gi", "memory_request", "2Gi")
	f.Add(3, "cpu_limit", "1e400", "cpu_request", "0.0000001")
	f.Add(5, "key", "a", "value", "\xff")
	f.Add(24, "memory_limit", "1Gi", "memory_request", "2Gi")
	f.Add(28, "parallelism", "7", "", "")
	f.Add(29, "activeDeadlineSeconds", " 600", "", "")
	f.Add(30, "backoffLimit", "+3", "", "")
	catalogue := Catalogue()
	f.Fuzz(func(t *testing.T, i int, k1, v1, k2, v2 string) {
		if i < 0 {
			i = -i
		}
		s := catalogue[i%len(catalogue)]
		params := platformv1alpha1.ActionParams{k1: v1, k2: v2}
		if err := Parse(s.Type, params); err != nil {
			return
		}
		switch s.Type {
		case platformv1alpha1.ActionScaleDeployment:
			p, err := ParseScale(s.Type, params)
			if err != nil || p.Replicas < 0 || p.Replicas > MaxReplicas {
				t.Fatalf("scale accepted %v as %+v (%v)", params, p, err)
			}
		case platformv1alpha1.ActionAdjustResources, platformv1alpha1.ActionAdjustJobResources:
			p, err := ParseResources(s.Type, params)
			if err != nil {
				t.Fatal(err)
			}
			if p.MemoryLimit != nil && p.MemoryRequest != nil && p.MemoryLimit.Cmp(*p.MemoryRequest) < 0 {
				t.Fatalf("limit below request accepted: %v", params)
			}
		case platformv1alpha1.ActionAdjustJobParallelism, platformv1alpha1.ActionAdjustJobDeadline, platformv1alpha1.ActionAdjustJobBackoffLimit:
			name, v, err := ParseJobSetting(s.Type, params)
			if err != nil {
				t.Fatal(err)
			}
			p, _ := s.Param(name)
			if v < p.Min || v > p.Max || v > 1<<31-1 {
				t.Fatalf("%s accepted %v as %s=%d", s.Type, params, name, v)
			}
		}
	})
}
