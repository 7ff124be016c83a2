package chatcli

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/grpcx"
)

func readyInstance(mutate func(*platformv1alpha1.Instance)) *platformv1alpha1.Instance {
	inst := &platformv1alpha1.Instance{
		ObjectMeta: metav1.ObjectMeta{Name: "prod", Namespace: "chatcli", UID: "uid-1"},
		Spec: platformv1alpha1.InstanceSpec{
			Server: platformv1alpha1.ServerSpec{
				Port:  7443,
				TLS:   &platformv1alpha1.TLSSpec{Enabled: true, SecretName: "prod-tls"},
				Token: &platformv1alpha1.TokenSecretReference{Name: "prod-token", Key: "bearer"},
			},
			Watcher: &platformv1alpha1.WatcherSpec{Enabled: true, Interval: "1m"},
		},
		Status: platformv1alpha1.InstanceStatus{
			Endpoint:   "dns:///chatcli-prod.production.svc.cluster.local:50051",
			Conditions: []metav1.Condition{{Type: platformv1alpha1.InstanceReadyCondition, Status: metav1.ConditionTrue}},
		},
	}
	if mutate != nil {
		mutate(inst)
	}
	return inst
}

func TestEligible(t *testing.T) {
	now := metav1.Now()
	cases := map[string]struct {
		reason string
		mutate func(*platformv1alpha1.Instance)
		want   bool
	}{
		"ReadyAndEnabled": {reason: "The case to poll.", want: true},
		"NoTLS": {reason: "TLS is checked by the loop, which reports the refusal.", want: true,
			mutate: func(i *platformv1alpha1.Instance) { i.Spec.Server.TLS = nil }},
		"NotReady": {reason: "A server that is not Ready is not polled.",
			mutate: func(i *platformv1alpha1.Instance) { i.Status.Conditions[0].Status = metav1.ConditionFalse }},
		"NoCondition": {reason: "Without a Ready condition the server is not known to be up.",
			mutate: func(i *platformv1alpha1.Instance) { i.Status.Conditions = nil }},
		"WatcherOff": {reason: "Only Instances with the watcher on are polled.",
			mutate: func(i *platformv1alpha1.Instance) { i.Spec.Watcher.Enabled = false }},
		"NoWatcher": {reason: "No watcher spec means off.",
			mutate: func(i *platformv1alpha1.Instance) { i.Spec.Watcher = nil }},
		"Deleting": {reason: "An Instance being deleted is let go.",
			mutate: func(i *platformv1alpha1.Instance) { i.DeletionTimestamp = &now }},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := eligible(readyInstance(tc.mutate)); got != tc.want {
				t.Errorf("%s\neligible = %v, want %v", tc.reason, got, tc.want)
			}
		})
	}
}

func TestTargetOf(t *testing.T) {
	key := types.NamespacedName{Namespace: "chatcli", Name: "prod"}
	cases := map[string]struct {
		reason string
		mutate func(*platformv1alpha1.Instance)
		want   target
	}{
		"Published": {
			reason: "status.endpoint, published by the instance-operator, wins.",
			want: target{key: key, uid: "uid-1", endpoint: "dns:///chatcli-prod.production.svc.cluster.local:50051", interval: "1m",
				tls: true, tlsSecret: "prod-tls", tokenSecret: "prod-token", tokenKey: "bearer", namespaces: "chatcli"},
		},
		"ServiceAddress": {
			reason: "Without a published endpoint, the Service DNS name and spec port are used.",
			mutate: func(i *platformv1alpha1.Instance) { i.Status.Endpoint = "" },
			want: target{key: key, uid: "uid-1", endpoint: "dns:///prod.chatcli.svc.cluster.local:7443", interval: "1m",
				tls: true, tlsSecret: "prod-tls", tokenSecret: "prod-token", tokenKey: "bearer", namespaces: "chatcli"},
		},
		"Defaults": {
			reason: "Port 50051, token key \"token\" and no interval (the Config default) when unset.",
			mutate: func(i *platformv1alpha1.Instance) {
				i.Status.Endpoint, i.Spec.Server.Port, i.Spec.Server.Token.Key, i.Spec.Watcher.Interval = "", 0, "", ""
			},
			want: target{key: key, uid: "uid-1", endpoint: "dns:///prod.chatcli.svc.cluster.local:50051",
				tls: true, tlsSecret: "prod-tls", tokenSecret: "prod-token", tokenKey: "token", namespaces: "chatcli"},
		},
		"TLSOffNoToken": {
			reason: "TLS switched off is recorded as no TLS, whatever the Secret name.",
			mutate: func(i *platformv1alpha1.Instance) { i.Spec.Server.TLS.Enabled, i.Spec.Server.Token = false, nil },
			want:   target{key: key, uid: "uid-1", endpoint: "dns:///chatcli-prod.production.svc.cluster.local:50051", interval: "1m", namespaces: "chatcli"},
		},
	}
	withTargets := readyInstance(func(i *platformv1alpha1.Instance) {
		i.Spec.Watcher.Targets = []platformv1alpha1.WatchTarget{{Name: "a", Namespace: "shop"}, {Name: "b", Namespace: "batch"}, {Name: "c", Namespace: "shop"}}
	})
	if got := targetOf(withTargets).namespaces; got != "batch,chatcli,shop" {
		t.Errorf("namespaces of an Instance watching shop and batch = %q, want its own and its targets', sorted", got)
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := targetOf(readyInstance(tc.mutate))
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(target{})); diff != "" {
				t.Errorf("%s\ntargetOf (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}

func TestParseInterval(t *testing.T) {
	def := 30 * time.Second
	cases := map[string]struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		"Empty":       {in: "", want: def},
		"Millis":      {in: "200ms", want: 200 * time.Millisecond},
		"Compound":    {in: "1m30s", want: 90 * time.Second},
		"Garbage":     {in: "often", want: def, wantErr: true},
		"Zero":        {in: "0s", want: def, wantErr: true},
		"NoUnit":      {in: "30", want: def, wantErr: true},
		"NegativeDur": {in: "-5s", want: def, wantErr: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := parseInterval(tc.in, def)
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Errorf("parseInterval(%q) = %s, %v; want %s, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
	if got := callTimeout(time.Minute); got != maxCallTimeout {
		t.Errorf("callTimeout(1m) = %s, want %s", got, maxCallTimeout)
	}
	if got := callTimeout(200 * time.Millisecond); got != 200*time.Millisecond {
		t.Errorf("callTimeout(200ms) = %s, want 200ms", got)
	}
}

// TestDialConfig reads the Secrets from the real API server.
func TestDialConfig(t *testing.T) {
	ctx := context.Background()
	ns := env.NewNamespace(t, "dialcfg", nil)
	mine := map[string]string{platformv1alpha1.LabelInstance: "i"}
	owned := []metav1.OwnerReference{{APIVersion: platformv1alpha1.GroupVersion.String(), Kind: "Instance", Name: "i", UID: "uid-i"}}
	for _, s := range []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Name: "tls", Namespace: ns, Labels: mine}, Data: map[string][]byte{"ca.crt": []byte("PEM")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "tls-no-ca", Namespace: ns, Labels: mine}, Data: map[string][]byte{"tls.crt": []byte("PEM")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "token", Namespace: ns, OwnerReferences: owned}, Data: map[string][]byte{"token": []byte(" s3cret\n"), "blank": []byte("\n")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "other-apps-token", Namespace: ns}, Data: map[string][]byte{"token": []byte("not-yours")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "other-instances-token", Namespace: ns, Labels: map[string]string{platformv1alpha1.LabelInstance: "j"}}, Data: map[string][]byte{"token": []byte("not-yours")}},
	} {
		if err := env.Client.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	base := target{key: types.NamespacedName{Namespace: ns, Name: "i"}, uid: "uid-i", tls: true, tlsSecret: "tls", tokenSecret: "token", tokenKey: "token"}
	cases := map[string]struct {
		mutate  func(*target)
		want    grpcx.ClientConfig
		wantErr string
	}{
		"CAAndToken":        {want: grpcx.ClientConfig{CAPEM: []byte("PEM"), Token: "s3cret"}},
		"NoToken":           {mutate: func(t *target) { t.tokenSecret = "" }, want: grpcx.ClientConfig{CAPEM: []byte("PEM")}},
		"NoTLS":             {mutate: func(t *target) { t.tls = false }, wantErr: errTLSDisabled.Error()},
		"NoCA":              {mutate: func(t *target) { t.tlsSecret = "tls-no-ca" }, wantErr: `read the CA: the Secret ` + ns + `/tls-no-ca has no key "ca.crt"`},
		"NoSecret":          {mutate: func(t *target) { t.tokenSecret = "missing" }, wantErr: "read the token: get Secret " + ns + "/missing"},
		"Unlabelled":        {mutate: func(t *target) { t.tokenSecret = "other-apps-token" }, wantErr: errSecretNotTrusted.Error()},
		"OtherInstance":     {mutate: func(t *target) { t.tokenSecret = "other-instances-token" }, wantErr: errSecretNotTrusted.Error()},
		"RecreatedInstance": {mutate: func(t *target) { t.uid = "uid-of-a-new-i" }, wantErr: errSecretNotTrusted.Error()},
		"BlankToken":        {mutate: func(t *target) { t.tokenKey = "blank" }, wantErr: `read the token: key "blank" of Secret ` + ns + "/token is blank"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tg := base
			if tc.mutate != nil {
				tc.mutate(&tg)
			}
			got, err := dialConfig(ctx, env.Client, tg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("dialConfig error = %v, want one containing %q", err, tc.wantErr)
				}
				if tc.wantErr == errTLSDisabled.Error() && !errors.Is(err, errTLSDisabled) {
					t.Errorf("dialConfig error %v is not errTLSDisabled", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("dialConfig: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("dialConfig (-want +got):\n%s", diff)
			}
		})
	}
}
