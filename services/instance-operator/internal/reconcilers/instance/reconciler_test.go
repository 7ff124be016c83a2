package instance

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/testenv"
)

var env *testenv.Environment

func TestMain(m *testing.M) { testenv.Run(m, &env, testenv.Options{WithoutRedis: true}) }

const (
	timeout = 30 * time.Second
	// testWatcherRole stands for the chart's <release>-instance-watcher; the
	// generated RBAC binds only a ClusterRole of this name.
	testWatcherRole = "instance-watcher"
)

// start runs the reconciler as the instance-operator's ServiceAccount, with
// only its generated RBAC, its cache limited to namespaces as in
// production, and returns a fresh Instance namespace.
func start(t testing.TB) (string, cache.Cache) {
	t.Helper()
	ns := env.NewNamespace(t, "inst", nil)
	ensureWatcherClusterRole(t)
	id := env.AsService(t, "instance-operator", env.NewNamespace(t, "platform", nil), ns)
	opts := ctrl.Options{
		Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		Cache:      cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}, DefaultTransform: cache.TransformStripManagedFields()},
		// As libs/bootstrap: Secrets are never read from a cache.
		Client: client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
	}
	if err := CacheOptions(&opts.Cache); err != nil {
		t.Fatal(err)
	}
	mgr, err := ctrl.NewManager(id.Config, opts)
	if err != nil {
		t.Fatal(err)
	}
	r := &Reconciler{
		Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("instance-operator"),
		Config: Config{Image: "ghcr.io/diillson/chatcli", Tag: "0.1.0", WatcherClusterRole: testWatcherRole},
	}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	return ns, mgr.GetCache()
}

func ensureWatcherClusterRole(t testing.TB) {
	t.Helper()
	cr := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: testWatcherRole}, Rules: WatcherRules}
	if err := env.Client.Create(context.Background(), cr); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

func secret(ns, name string, labelled bool, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: data}
	if labelled {
		s.Labels = map[string]string{platformv1alpha1.LabelInstance: "any"}
	}
	return s
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, obj := range objs {
		if err := env.Client.Create(context.Background(), obj); err != nil {
			t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
		}
	}
}

func basicInstance(ns, name string) *platformv1alpha1.Instance {
	return &platformv1alpha1.Instance{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: platformv1alpha1.InstanceSpec{
			Provider: platformv1alpha1.ProviderClaudeAI,
			APIKeys:  &platformv1alpha1.LocalObjectReference{Name: "keys"},
		},
	}
}

// get reads obj by key from the API server, in a gomega-aware way.
func get(g Gomega, ns, name string, obj client.Object) {
	g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj)).To(Succeed())
}

func exists(ns, name string, obj client.Object) func() error {
	return func() error {
		return env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj)
	}
}

func markDeploymentReady(g Gomega, ns, name string) {
	dep := &appsv1.Deployment{}
	get(g, ns, name, dep)
	n := ptr.Deref(dep.Spec.Replicas, 1)
	dep.Status = appsv1.DeploymentStatus{ObservedGeneration: dep.Generation, Replicas: n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n}
	g.Expect(env.Client.Status().Update(context.Background(), dep)).To(Succeed())
}

func readyCondition(g Gomega, ns, name string) string {
	inst := &platformv1alpha1.Instance{}
	get(g, ns, name, inst)
	c := meta.FindStatusCondition(inst.Status.Conditions, platformv1alpha1.InstanceReadyCondition)
	if c == nil {
		return ""
	}
	return string(c.Status) + "/" + c.Reason
}

func TestEveryResourceIsCreated(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns, _ := start(t)
	create(t, secret(ns, "keys", true, map[string]string{"ANTHROPIC_API_KEY": "sk-ant-test"}),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "agents"}, Data: map[string]string{"sre.md": "# SRE"}})
	inst := basicInstance(ns, "srv")
	inst.Spec.Persistence = &platformv1alpha1.PersistenceSpec{Enabled: true}
	inst.Spec.Agents = &platformv1alpha1.AgentsSpec{ConfigMapRef: "agents"}
	inst.Spec.Watcher = &platformv1alpha1.WatcherSpec{Enabled: true, Interval: "45s", Targets: []platformv1alpha1.WatchTarget{
		{Name: "api", Namespace: ns, MetricsPort: 9090}, {Name: "db", Namespace: ns, Kind: platformv1alpha1.KindStatefulSet},
	}}
	create(t, inst)

	for _, want := range []struct {
		name string
		obj  client.Object
	}{
		{"srv", &appsv1.Deployment{}}, {"srv", &corev1.Service{}}, {"srv", &corev1.ConfigMap{}}, {"srv-watch-config", &corev1.ConfigMap{}},
		{"srv", &corev1.ServiceAccount{}}, {"srv-watcher", &rbacv1.Role{}}, {"srv-watcher", &rbacv1.RoleBinding{}}, {"srv-sessions", &corev1.PersistentVolumeClaim{}},
	} {
		g.Eventually(exists(ns, want.name, want.obj)).WithTimeout(timeout).Should(Succeed(), "%T %s", want.obj, want.name)
		g.Expect(metav1.IsControlledBy(want.obj, instanceFromServer(g, ns, "srv"))).To(BeTrue(), "%T %s is owned by the Instance", want.obj, want.name)
	}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: ClusterRoleBindingName(ns, "srv")}, &rbacv1.ClusterRoleBinding{})).To(Satisfy(apierrors.IsNotFound))

	svc := &corev1.Service{}
	get(g, ns, "srv", svc)
	g.Expect(svc.Spec.ClusterIP).NotTo(Equal(corev1.ClusterIPNone))
	g.Expect(portNames(svc.Spec.Ports)).To(Equal([]string{"grpc", "metrics"}))

	watch := &corev1.ConfigMap{}
	get(g, ns, "srv-watch-config", watch)
	var wc watchConfig
	g.Expect(yaml.Unmarshal([]byte(watch.Data[watchFile]), &wc)).To(Succeed())
	g.Expect(wc).To(Equal(watchConfig{Interval: "45s", Targets: []watchTarget{
		{Kind: "Deployment", Name: "api", Namespace: ns, MetricsPort: 9090}, {Kind: "StatefulSet", Name: "db", Namespace: ns},
	}}))

	role := &rbacv1.Role{}
	get(g, ns, "srv-watcher", role)
	for _, rule := range role.Rules {
		g.Expect(rule.Verbs).To(ConsistOf("get", "list", "watch"), "the watcher Role is read-only")
	}

	dep := &appsv1.Deployment{}
	get(g, ns, "srv", dep)
	pod := dep.Spec.Template.Spec
	c := pod.Containers[0]
	g.Expect(pod.ServiceAccountName).To(Equal("srv"))
	g.Expect(c.Image).To(Equal("ghcr.io/diillson/chatcli:0.1.0"))
	g.Expect(c.SecurityContext.ReadOnlyRootFilesystem).To(Equal(ptr.To(true)))
	g.Expect(c.SecurityContext.Capabilities.Drop).To(ConsistOf(corev1.Capability("ALL")))
	g.Expect(pod.SecurityContext.RunAsNonRoot).To(Equal(ptr.To(true)))
	g.Expect(pod.SecurityContext.SeccompProfile.Type).To(Equal(corev1.SeccompProfileTypeRuntimeDefault))
	g.Expect(c.ReadinessProbe.GRPC).NotTo(BeNil())
	g.Expect(dep.Spec.Template.Annotations).To(HaveKey(AnnotationConfigHash))
	g.Expect(mounts(c)).To(HaveKeyWithValue("sessions", sessionsPath))
	g.Expect(claim(pod, "sessions")).To(Equal("srv-sessions"))

	// The resource versions before the pass that the Deployment's status
	// brings: server-side apply of an unchanged object writes nothing.
	versions := func(g Gomega) map[string]string {
		out := map[string]string{}
		for _, o := range []struct {
			name string
			obj  client.Object
		}{{"srv", &corev1.ServiceAccount{}}, {"srv", &corev1.ConfigMap{}}, {"srv-watch-config", &corev1.ConfigMap{}}, {"srv", &corev1.Service{}}, {"srv-watcher", &rbacv1.Role{}}, {"srv-watcher", &rbacv1.RoleBinding{}}} {
			get(g, ns, o.name, o.obj)
			out[fmt.Sprintf("%T/%s", o.obj, o.name)] = o.obj.GetResourceVersion()
		}
		return out
	}
	before := versions(g)

	// No kubelet here: the test plays the Deployment controller.
	g.Eventually(func(g Gomega) { markDeploymentReady(g, ns, "srv") }).WithTimeout(timeout).Should(Succeed())
	g.Eventually(func(g Gomega) {
		got := instanceFromServer(g, ns, "srv")
		g.Expect(readyCondition(g, ns, "srv")).To(Equal("True/Available"))
		g.Expect(got.Status.Ready).To(BeTrue())
		g.Expect(got.Status.Replicas).To(Equal(int32(1)))
		g.Expect(got.Status.ReadyReplicas).To(Equal(int32(1)))
		g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
		g.Expect(got.Status.Endpoint).To(Equal("dns:///srv." + ns + ".svc.cluster.local:50051"))
	}).WithTimeout(timeout).Should(Succeed())
	g.Expect(versions(g)).To(Equal(before), "a pass with nothing to change wrote an object")

	// Persistence off: the PVC stays while the Instance lives.
	editInstance(g, ns, "srv", func(got *platformv1alpha1.Instance) {
		got.Spec.Persistence.Enabled = false
	})
	g.Eventually(func(g Gomega) {
		d := &appsv1.Deployment{}
		get(g, ns, "srv", d)
		g.Expect(claim(d.Spec.Template.Spec, "sessions")).To(BeEmpty())
	}).WithTimeout(timeout).Should(Succeed())
	g.Expect(exists(ns, "srv-sessions", &corev1.PersistentVolumeClaim{})()).To(Succeed())
}

// editInstance changes an Instance's spec with a merge patch, which does
// not conflict with the operator's status writes.
func editInstance(g Gomega, ns, name string, edit func(*platformv1alpha1.Instance)) {
	inst := instanceFromServer(g, ns, name)
	patch := client.MergeFrom(inst.DeepCopy())
	edit(inst)
	g.Expect(env.Client.Patch(context.Background(), inst, patch)).To(Succeed())
}

func instanceFromServer(g Gomega, ns, name string) *platformv1alpha1.Instance {
	inst := &platformv1alpha1.Instance{}
	get(g, ns, name, inst)
	return inst
}

func portNames(ports []corev1.ServicePort) []string {
	var out []string
	for _, p := range ports {
		out = append(out, p.Name)
	}
	return out
}

func mounts(c corev1.Container) map[string]string {
	out := map[string]string{}
	for _, m := range c.VolumeMounts {
		out[m.Name] = m.MountPath
	}
	return out
}

func claim(pod corev1.PodSpec, volume string) string {
	for _, v := range pod.Volumes {
		if v.Name == volume && v.PersistentVolumeClaim != nil {
			return v.PersistentVolumeClaim.ClaimName
		}
	}
	return ""
}

func TestServiceSwitchesHeadlessBothWays(t *testing.T) {
	g := NewWithT(t)
	ns, _ := start(t)
	create(t, secret(ns, "keys", true, map[string]string{"K": "v"}), basicInstance(ns, "srv"))

	serviceState := func(g Gomega) (string, bool) {
		svc := &corev1.Service{}
		get(g, ns, "srv", svc)
		return string(svc.UID), svc.Spec.ClusterIP == corev1.ClusterIPNone
	}
	var uid string
	g.Eventually(func(g Gomega) {
		var isHeadless bool
		uid, isHeadless = serviceState(g)
		g.Expect(isHeadless).To(BeFalse())
	}).WithTimeout(timeout).Should(Succeed())

	for _, want := range []struct {
		replicas int32
		headless bool
	}{{3, true}, {1, false}} {
		editInstance(g, ns, "srv", func(inst *platformv1alpha1.Instance) {
			inst.Spec.Replicas = ptr.To(want.replicas)
		})
		g.Eventually(func(g Gomega) {
			newUID, isHeadless := serviceState(g)
			g.Expect(isHeadless).To(Equal(want.headless))
			g.Expect(newUID).NotTo(Equal(uid), "the Service was recreated")
			uid = newUID
		}).WithTimeout(timeout).Should(Succeed(), "replicas %d", want.replicas)
	}
}

func TestSecretChangeRollsTheDeployment(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns, _ := start(t)
	keys := secret(ns, "keys", true, map[string]string{"ANTHROPIC_API_KEY": "one"})
	create(t, keys, basicInstance(ns, "srv"))

	hash := func(g Gomega) string {
		dep := &appsv1.Deployment{}
		get(g, ns, "srv", dep)
		return dep.Spec.Template.Annotations[AnnotationConfigHash]
	}
	var first string
	g.Eventually(func(g Gomega) { first = hash(g); g.Expect(first).NotTo(BeEmpty()) }).WithTimeout(timeout).Should(Succeed())

	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(keys), keys)).To(Succeed())
	keys.StringData = map[string]string{"ANTHROPIC_API_KEY": "two"}
	g.Expect(env.Client.Update(ctx, keys)).To(Succeed())
	g.Eventually(hash).WithTimeout(timeout).ShouldNot(Equal(first))
}

func TestServiceAccountKeepsForeignAnnotations(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns, _ := start(t)
	create(t, secret(ns, "keys", true, map[string]string{"K": "v"}), basicInstance(ns, "srv"))
	sa := &corev1.ServiceAccount{}
	g.Eventually(exists(ns, "srv", sa)).WithTimeout(timeout).Should(Succeed())

	// As `kubectl annotate`, and a label dropped by hand.
	const roleARN = "arn:aws:iam::123456789012:role/chatcli-bedrock"
	patch := client.MergeFrom(sa.DeepCopy())
	sa.Annotations = map[string]string{"eks.amazonaws.com/role-arn": roleARN}
	delete(sa.Labels, labelComponent)
	g.Expect(env.Client.Patch(ctx, sa, patch)).To(Succeed())

	// A spec change brings a pass that re-applies the ServiceAccount.
	editInstance(g, ns, "srv", func(inst *platformv1alpha1.Instance) {
		inst.Spec.Model = "claude-sonnet-4-5"
	})
	g.Eventually(func(g Gomega) {
		got := &corev1.ServiceAccount{}
		get(g, ns, "srv", got)
		g.Expect(got.Labels).To(HaveKeyWithValue(labelComponent, "server"), "labels are reconciled")
		g.Expect(got.Annotations).To(HaveKeyWithValue("eks.amazonaws.com/role-arn", roleARN))
		cm := &corev1.ConfigMap{}
		get(g, ns, "srv", cm)
		g.Expect(cm.Data).To(HaveKeyWithValue("ANTHROPIC_MODEL", "claude-sonnet-4-5"))
	}).WithTimeout(timeout).Should(Succeed())
}

func TestWatcherRBACFollowsTargets(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns, _ := start(t)
	create(t, secret(ns, "keys", true, map[string]string{"K": "v"}))
	inst := basicInstance(ns, "srv")
	inst.Spec.Watcher = &platformv1alpha1.WatcherSpec{Enabled: true, Targets: []platformv1alpha1.WatchTarget{{Name: "api", Namespace: "production"}}}
	create(t, inst)
	crbKey := client.ObjectKey{Name: ClusterRoleBindingName(ns, "srv")}

	clusterBinding := func(g Gomega) {
		crb := &rbacv1.ClusterRoleBinding{}
		g.Expect(env.Client.Get(ctx, crbKey, crb)).To(Succeed())
		g.Expect(crb.RoleRef).To(Equal(rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: testWatcherRole}))
		g.Expect(crb.Subjects).To(Equal([]rbacv1.Subject{{Kind: "ServiceAccount", Name: "srv", Namespace: ns}}))
		g.Expect(exists(ns, "srv-watcher", &rbacv1.Role{})()).To(Satisfy(apierrors.IsNotFound))
	}
	g.Eventually(clusterBinding).WithTimeout(timeout).Should(Succeed())

	// All targets at home: a Role, and the ClusterRoleBinding goes.
	editInstance(g, ns, "srv", func(inst *platformv1alpha1.Instance) {
		inst.Spec.Watcher.Targets = []platformv1alpha1.WatchTarget{{Name: "api", Namespace: ns}}
	})
	g.Eventually(func(g Gomega) {
		g.Expect(exists(ns, "srv-watcher", &rbacv1.Role{})()).To(Succeed())
		g.Expect(exists(ns, "srv-watcher", &rbacv1.RoleBinding{})()).To(Succeed())
		g.Expect(env.Client.Get(ctx, crbKey, &rbacv1.ClusterRoleBinding{})).To(Satisfy(apierrors.IsNotFound))
	}).WithTimeout(timeout).Should(Succeed())

	// Back across namespaces, then deleted: the finalizer removes the
	// ClusterRoleBinding no owner reference can reach.
	editInstance(g, ns, "srv", func(inst *platformv1alpha1.Instance) {
		inst.Spec.Watcher.Targets = append(inst.Spec.Watcher.Targets, platformv1alpha1.WatchTarget{Name: "worker", Namespace: "batch"})
	})
	g.Eventually(clusterBinding).WithTimeout(timeout).Should(Succeed())
	g.Expect(env.Client.Delete(ctx, inst)).To(Succeed())
	g.Eventually(func() error { return env.Client.Get(ctx, crbKey, &rbacv1.ClusterRoleBinding{}) }).WithTimeout(timeout).Should(Satisfy(apierrors.IsNotFound))
	g.Eventually(exists(ns, "srv", &platformv1alpha1.Instance{})).WithTimeout(timeout).Should(Satisfy(apierrors.IsNotFound))
}

func TestMissingReferencesSetTheConditionAndWait(t *testing.T) {
	g := NewWithT(t)
	ns, _ := start(t)
	inst := basicInstance(ns, "srv")
	inst.Spec.Agents = &platformv1alpha1.AgentsSpec{SkillsConfigMapRef: "skills"}
	create(t, inst)
	g.Eventually(func(g Gomega) string { return readyCondition(g, ns, "srv") }).WithTimeout(timeout).Should(Equal("False/SecretMissing"))
	g.Expect(exists(ns, "srv", &appsv1.Deployment{})()).To(Satisfy(apierrors.IsNotFound))

	create(t, secret(ns, "keys", true, map[string]string{"K": "v"}))
	g.Eventually(func(g Gomega) string { return readyCondition(g, ns, "srv") }).WithTimeout(timeout).Should(Equal("False/ConfigMapMissing"))
	create(t, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "skills", Labels: map[string]string{platformv1alpha1.LabelInstance: "srv"}}, Data: map[string]string{"a.md": "x"}})
	g.Eventually(exists(ns, "srv", &appsv1.Deployment{})).WithTimeout(timeout).Should(Succeed())

	// The Secret goes away: the condition says so, the Deployment stays.
	g.Expect(env.Client.Delete(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "keys"}})).To(Succeed())
	g.Eventually(func(g Gomega) string { return readyCondition(g, ns, "srv") }).WithTimeout(timeout).Should(Equal("False/SecretMissing"))
	g.Expect(exists(ns, "srv", &appsv1.Deployment{})()).To(Succeed())
}

// TestSeedInstances reconciles the seed's three examples (Claude with TLS,
// Copilot, Bedrock) and checks the server's environment and volumes.
func TestSeedInstances(t *testing.T) {
	ns, _ := start(t)
	create(t,
		secret(ns, "chatcli-api-keys", false, map[string]string{"ANTHROPIC_API_KEY": "sk-ant-xxx"}),
		secret(ns, "chatcli-tls", false, map[string]string{"tls.crt": "c", "tls.key": "k"}),
		secret(ns, "chatcli-server-token", false, map[string]string{"token": "t"}),
		secret(ns, "chatcli-jwt", false, map[string]string{"secret": "s"}),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "chatcli-agents"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "chatcli-skills"}},
	)
	for _, f := range []string{"secret-chatcli-copilot-keys.yaml", "secret-chatcli-bedrock-keys.yaml"} {
		s := &corev1.Secret{}
		readSeed(t, f, s)
		s.Namespace = ns
		create(t, s)
	}
	cases := map[string]struct {
		file       string
		envFrom    []string
		env        map[string]string // name -> value or secret/key
		config     map[string]string // ConfigMap <name> entries
		mounts     map[string]string
		args       []string
		init       bool
		tcpProbe   bool
		clusterRBE bool
	}{
		"ClaudeWithTLS": {
			file:    "instance-chatcli-prod.yaml",
			envFrom: []string{"configmap/chatcli-prod", "secret/chatcli-api-keys"},
			env: map[string]string{
				EnvTokenVar: "chatcli-server-token/token", EnvJWTVar: "chatcli-jwt/secret", "CHATCLI_AGENT_SECURITY_MODE": "strict",
			},
			config: map[string]string{"LLM_PROVIDER": "CLAUDEAI", "CHATCLI_WATCH_CONFIG": watchPath + "/" + watchFile},
			mounts: map[string]string{
				"tls": tlsPath, "watch-config": watchPath, "agents": agentsPath, "skills": skillsPath, "plugins": pluginsPath, "sessions": sessionsPath,
			},
			args: []string{"--tls-cert=" + tlsPath + "/tls.crt", "--rate-limit-rps=20", "--rate-limit-burst=50", "--bind-address=0.0.0.0", "--watch-config=" + watchPath + "/" + watchFile},
			init: true, tcpProbe: true, clusterRBE: true,
		},
		"Copilot": {
			file:    "instance-chatcli-copilot.yaml",
			envFrom: []string{"configmap/chatcli-copilot", "secret/chatcli-copilot-keys"},
			config:  map[string]string{"LLM_PROVIDER": "COPILOT", "COPILOT_MODEL": "gpt-4o"},
			mounts:  map[string]string{"sessions": sessionsPath},
			args:    []string{"--provider=COPILOT", "--model=gpt-4o", "--port=50051"},
		},
		"Bedrock": {
			file:    "instance-chatcli-bedrock.yaml",
			envFrom: []string{"configmap/chatcli-bedrock", "secret/chatcli-bedrock-keys"},
			config:  map[string]string{"LLM_PROVIDER": "BEDROCK", "BEDROCK_MODEL": "global.anthropic.claude-sonnet-4-5-20250929-v1:0"},
			mounts:  map[string]string{"sessions": sessionsPath},
			args:    []string{"--provider=BEDROCK"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			inst := &platformv1alpha1.Instance{}
			readSeed(t, tc.file, inst)
			inst.Namespace = ns
			create(t, inst)

			dep := &appsv1.Deployment{}
			g.Eventually(exists(ns, inst.Name, dep)).WithTimeout(timeout).Should(Succeed())
			c := dep.Spec.Template.Spec.Containers[0]
			var envFrom []string
			for _, e := range c.EnvFrom {
				if e.ConfigMapRef != nil {
					envFrom = append(envFrom, "configmap/"+e.ConfigMapRef.Name)
				}
				if e.SecretRef != nil {
					envFrom = append(envFrom, "secret/"+e.SecretRef.Name)
				}
			}
			g.Expect(envFrom).To(Equal(tc.envFrom))
			gotEnv := map[string]string{}
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					gotEnv[e.Name] = e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
				} else {
					gotEnv[e.Name] = e.Value
				}
			}
			if tc.env == nil {
				tc.env = map[string]string{}
			}
			g.Expect(gotEnv).To(Equal(tc.env))
			g.Expect(mounts(c)).To(Equal(mergeMaps(map[string]string{"tmp": "/tmp"}, tc.mounts)))
			for _, a := range tc.args {
				g.Expect(c.Args).To(ContainElement(a))
			}
			g.Expect(len(dep.Spec.Template.Spec.InitContainers) == 1).To(Equal(tc.init))
			g.Expect(c.ReadinessProbe.TCPSocket != nil).To(Equal(tc.tcpProbe))

			cm := &corev1.ConfigMap{}
			g.Eventually(exists(ns, inst.Name, cm)).WithTimeout(timeout).Should(Succeed())
			for k, v := range tc.config {
				g.Expect(cm.Data).To(HaveKeyWithValue(k, v))
			}
			crb := exists("", ClusterRoleBindingName(ns, inst.Name), &rbacv1.ClusterRoleBinding{})
			if tc.clusterRBE {
				g.Eventually(crb).WithTimeout(timeout).Should(Succeed())
			} else {
				g.Expect(crb()).To(Satisfy(apierrors.IsNotFound))
			}
		})
	}
}

func mergeMaps(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range []map[string]string{a, b} {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func readSeed(t *testing.T, file string, into any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "..", "api", "platform", "v1alpha1", "testdata", "seed", file))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, into); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// TestCacheHoldsOnlyLabelledSecrets: the operator's informer of Secrets is
// metadata only and selects on the instance label, so an unlabelled Secret,
// referenced or not, never enters its memory.
func TestCacheHoldsOnlyLabelledSecrets(t *testing.T) {
	g := NewWithT(t)
	ns, c := start(t)
	create(t, secret(ns, "keys", true, map[string]string{"K": "v"}), secret(ns, "unrelated", false, map[string]string{"K": "v"}),
		secret(ns, "tls", false, map[string]string{"tls.crt": "c", "tls.key": "k"}))
	inst := basicInstance(ns, "srv")
	inst.Spec.Server.TLS = &platformv1alpha1.TLSSpec{Enabled: true, SecretName: "tls"}
	create(t, inst)
	g.Eventually(exists(ns, "srv", &appsv1.Deployment{})).WithTimeout(timeout).Should(Succeed())

	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("SecretList"))
	g.Expect(c.List(context.Background(), list, client.InNamespace(ns))).To(Succeed())
	var names []string
	for _, s := range list.Items {
		names = append(names, s.Name)
	}
	g.Expect(names).To(ConsistOf("keys"))
}
