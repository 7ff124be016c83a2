package instance

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// Paths and names inside the server pod. The agents, skills and plugins
// paths are the seed's; the rest are this operator's choice.
const (
	chatcliHome  = "/home/chatcli/.chatcli"
	agentsPath   = chatcliHome + "/agents"
	skillsPath   = chatcliHome + "/skills"
	pluginsPath  = chatcliHome + "/plugins"
	sessionsPath = chatcliHome + "/sessions"
	tlsPath      = "/etc/chatcli/tls"
	watchPath    = "/etc/chatcli/watch"
	watchFile    = "watch.yaml"

	containerName = "chatcli"
	metricsPort   = 9091
	runAsUser     = 1000

	defaultPort     = 50051
	defaultTokenKey = "token"
	defaultInterval = "30s"

	// EnvTokenVar and EnvJWTVar carry the server's bearer token and JWT
	// signing key, from secretKeyRefs, so no secret is ever in the pod spec.
	EnvTokenVar = "CHATCLI_SERVER_TOKEN"
	EnvJWTVar   = "CHATCLI_JWT_SECRET"
)

// Labels on everything the operator makes.
const (
	labelName      = "app.kubernetes.io/name"
	labelInstance  = "app.kubernetes.io/instance"
	labelManagedBy = "app.kubernetes.io/managed-by"
	labelComponent = "app.kubernetes.io/component"
	// ManagedBy is the value of app.kubernetes.io/managed-by on the
	// operator's objects; its cache selects on it.
	ManagedBy = "chatcli-instance-operator"
	// LabelInstanceNamespace on a ClusterRoleBinding names the namespace of
	// its Instance (LabelInstance names the Instance).
	LabelInstanceNamespace = "platform.chatcli.io/instance-namespace"
	// AnnotationConfigHash on the pod template is the SHA-256 of every
	// ConfigMap and Secret the server reads; a change rolls the pods.
	AnnotationConfigHash = "platform.chatcli.io/config-hash"
)

// modelEnv is the environment variable that names the model, per provider.
var modelEnv = map[platformv1alpha1.Provider]string{
	platformv1alpha1.ProviderOpenAI:       "OPENAI_MODEL",
	platformv1alpha1.ProviderClaudeAI:     "ANTHROPIC_MODEL",
	platformv1alpha1.ProviderBedrock:      "BEDROCK_MODEL",
	platformv1alpha1.ProviderGoogleAI:     "GOOGLEAI_MODEL",
	platformv1alpha1.ProviderOllama:       "OLLAMA_MODEL",
	platformv1alpha1.ProviderCopilot:      "COPILOT_MODEL",
	platformv1alpha1.ProviderOpenRouter:   "OPENROUTER_MODEL",
	platformv1alpha1.ProviderGitHubModels: "GITHUB_MODELS_MODEL",
	platformv1alpha1.ProviderXAI:          "XAI_MODEL",
}

// WatcherRules are the read-only rules of an Instance's watcher: the Role
// <name>-watcher has them, and so does the chart's <release>-instance-watcher
// ClusterRole.
var WatcherRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"pods", "pods/log", "events", "services", "endpoints"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"apps"}, Resources: []string{"deployments", "statefulsets", "daemonsets", "replicasets"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"batch"}, Resources: []string{"jobs", "cronjobs"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"autoscaling"}, Resources: []string{"horizontalpodautoscalers"}, Verbs: []string{"get", "list", "watch"}},
}

// Config is what the builders need beyond the Instance.
type Config struct {
	// Image is the default server image repository, and Tag its pinned tag.
	Image, Tag string
	// WatcherClusterRole is the chart's read-only ClusterRole that a
	// cross-namespace watcher is bound to.
	WatcherClusterRole string
}

// references are the Secrets and ConfigMaps an Instance names, read at the
// start of a pass. Their data feed the pod template's hash.
type references struct {
	secrets    map[string]*corev1.Secret
	configMaps map[string]*corev1.ConfigMap
}

func selectorLabels(inst *platformv1alpha1.Instance) map[string]string {
	return map[string]string{labelName: "chatcli", labelInstance: inst.Name}
}

func objectLabels(inst *platformv1alpha1.Instance) map[string]string {
	l := selectorLabels(inst)
	l[labelManagedBy] = ManagedBy
	l[labelComponent] = "server"
	l[platformv1alpha1.LabelInstance] = inst.Name
	return l
}

func objectMeta(inst *platformv1alpha1.Instance, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: inst.Namespace, Labels: objectLabels(inst)}
}

func replicas(inst *platformv1alpha1.Instance) int32 {
	return ptr.Deref(inst.Spec.Replicas, 1)
}

func port(inst *platformv1alpha1.Instance) int32 {
	if inst.Spec.Server.Port == 0 {
		return defaultPort
	}
	return inst.Spec.Server.Port
}

func tlsEnabled(inst *platformv1alpha1.Instance) bool {
	return inst.Spec.Server.TLS != nil && inst.Spec.Server.TLS.Enabled
}

func watcherEnabled(inst *platformv1alpha1.Instance) bool {
	return inst.Spec.Watcher != nil && inst.Spec.Watcher.Enabled
}

// Endpoint is the dns:/// gRPC target of the Instance's Service.
func Endpoint(inst *platformv1alpha1.Instance) string {
	return fmt.Sprintf("dns:///%s.%s.svc.cluster.local:%d", inst.Name, inst.Namespace, port(inst))
}

// referencedSecrets are the names of the Secrets inst reads, sorted.
func referencedSecrets(inst *platformv1alpha1.Instance) []string {
	var names []string
	if inst.Spec.APIKeys != nil {
		names = append(names, inst.Spec.APIKeys.Name)
	}
	if tlsEnabled(inst) {
		names = append(names, inst.Spec.Server.TLS.SecretName)
	}
	if inst.Spec.Server.Token != nil {
		names = append(names, inst.Spec.Server.Token.Name)
	}
	if s := inst.Spec.Server.Security; s != nil && s.JWTSecretRef != nil {
		names = append(names, s.JWTSecretRef.Name)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// referencedConfigMaps are the names of the ConfigMaps inst mounts, sorted.
func referencedConfigMaps(inst *platformv1alpha1.Instance) []string {
	var names []string
	if a := inst.Spec.Agents; a != nil {
		for _, n := range []string{a.ConfigMapRef, a.SkillsConfigMapRef} {
			if n != "" {
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// envConfigMap is ConfigMap <name>: the server's plain environment.
func envConfigMap(inst *platformv1alpha1.Instance) *corev1.ConfigMap {
	data := map[string]string{
		"LLM_PROVIDER":         string(inst.Spec.Provider),
		"CHATCLI_SERVER_PORT":  strconv.Itoa(int(port(inst))),
		"CHATCLI_METRICS_PORT": strconv.Itoa(metricsPort),
		"HOME":                 "/home/chatcli",
	}
	if v, ok := modelEnv[inst.Spec.Provider]; ok && inst.Spec.Model != "" {
		data[v] = inst.Spec.Model
	}
	if watcherEnabled(inst) {
		data["CHATCLI_WATCH_CONFIG"] = watchPath + "/" + watchFile
	}
	return &corev1.ConfigMap{ObjectMeta: objectMeta(inst, inst.Name), Data: data}
}

// watchTarget is one entry of the multi-target watch YAML.
type watchTarget struct {
	Kind        string `json:"kind"`
	Name        string `json:"name"`
	Namespace   string `json:"namespace"`
	MetricsPort int32  `json:"metricsPort,omitempty"`
}

type watchConfig struct {
	Interval string        `json:"interval"`
	Targets  []watchTarget `json:"targets"`
}

// watchConfigMap is ConfigMap <name>-watch-config: spec.watcher as the
// server's multi-target watch YAML.
func watchConfigMap(inst *platformv1alpha1.Instance) (*corev1.ConfigMap, error) {
	wc := watchConfig{Interval: defaultInterval, Targets: []watchTarget{}}
	if w := inst.Spec.Watcher; w != nil {
		if w.Interval != "" {
			wc.Interval = w.Interval
		}
		for _, t := range w.Targets {
			kind := string(t.Kind)
			if kind == "" {
				kind = string(platformv1alpha1.KindDeployment)
			}
			wc.Targets = append(wc.Targets, watchTarget{Kind: kind, Name: t.Name, Namespace: t.Namespace, MetricsPort: t.MetricsPort})
		}
	}
	out, err := yaml.Marshal(wc)
	if err != nil {
		return nil, fmt.Errorf("encode watch config: %w", err)
	}
	return &corev1.ConfigMap{ObjectMeta: objectMeta(inst, inst.Name+"-watch-config"), Data: map[string]string{watchFile: string(out)}}, nil
}

// serviceAccount is ServiceAccount <name>. Only labels: annotations such as
// eks.amazonaws.com/role-arn belong to whoever set them.
func serviceAccount(inst *platformv1alpha1.Instance) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{ObjectMeta: objectMeta(inst, inst.Name)}
}

// service is Service <name>, headless when more than one replica serves so
// that gRPC clients balance across pods with the dns:/// resolver.
func service(inst *platformv1alpha1.Instance) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: objectMeta(inst, inst.Name),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: selectorLabels(inst),
			Ports: []corev1.ServicePort{
				{Name: "grpc", Port: port(inst), TargetPort: intstr.FromString("grpc"), Protocol: corev1.ProtocolTCP, AppProtocol: ptr.To("grpc")},
				{Name: "metrics", Port: metricsPort, TargetPort: intstr.FromString("metrics"), Protocol: corev1.ProtocolTCP},
			},
		},
	}
	if headless(inst) {
		svc.Spec.ClusterIP = corev1.ClusterIPNone
		// A headless Service publishes only ready pods by default; clients
		// then never dial a pod that is still starting.
	}
	return svc
}

func headless(inst *platformv1alpha1.Instance) bool { return replicas(inst) > 1 }

// sessionsPVC is PVC <name>-sessions.
func sessionsPVC(inst *platformv1alpha1.Instance) *corev1.PersistentVolumeClaim {
	p := inst.Spec.Persistence
	size := resource.MustParse("1Gi")
	if p.Size != nil {
		size = *p.Size
	}
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: objectMeta(inst, inst.Name+"-sessions"),
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
		},
	}
	if p.StorageClassName != "" {
		pvc.Spec.StorageClassName = ptr.To(p.StorageClassName)
	}
	return pvc
}

// foreignTargets reports whether a watcher target is outside inst's namespace.
func foreignTargets(inst *platformv1alpha1.Instance) bool {
	if !watcherEnabled(inst) {
		return false
	}
	return slices.ContainsFunc(inst.Spec.Watcher.Targets, func(t platformv1alpha1.WatchTarget) bool { return t.Namespace != inst.Namespace })
}

func watcherName(inst *platformv1alpha1.Instance) string { return inst.Name + "-watcher" }

func watcherRole(inst *platformv1alpha1.Instance) *rbacv1.Role {
	return &rbacv1.Role{ObjectMeta: objectMeta(inst, watcherName(inst)), Rules: WatcherRules}
}

func watcherSubject(inst *platformv1alpha1.Instance) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: inst.Name, Namespace: inst.Namespace}
}

func watcherRoleBinding(inst *platformv1alpha1.Instance) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		ObjectMeta: objectMeta(inst, watcherName(inst)),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: watcherName(inst)},
		Subjects:   []rbacv1.Subject{watcherSubject(inst)},
	}
}

// ClusterRoleBindingName is the name of the ClusterRoleBinding of a
// cross-namespace watcher: unique per Instance, and at most 253 bytes.
func ClusterRoleBindingName(namespace, name string) string {
	n := "chatcli-watcher-" + namespace + "-" + name
	if len(n) <= 253 {
		return n
	}
	sum := sha256.Sum256([]byte(namespace + "/" + name))
	return n[:253-17] + "-" + hex.EncodeToString(sum[:8])
}

func watcherClusterRoleBinding(inst *platformv1alpha1.Instance, clusterRole string) *rbacv1.ClusterRoleBinding {
	labels := objectLabels(inst)
	labels[LabelInstanceNamespace] = inst.Namespace
	return &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: ClusterRoleBindingName(inst.Namespace, inst.Name), Labels: labels},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRole},
		Subjects:   []rbacv1.Subject{watcherSubject(inst)},
	}
}

// configHash is the SHA-256 of the data of the operator's ConfigMaps and of
// every referenced Secret and ConfigMap, in a fixed order.
func configHash(own []*corev1.ConfigMap, refs references) string {
	h := sha256.New()
	write := func(kind, name string, data map[string][]byte) {
		fmt.Fprintf(h, "%s/%s\n", kind, name)
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(h, "%s=%d:", k, len(data[k]))
			h.Write(data[k])
		}
	}
	cmData := func(cm *corev1.ConfigMap) map[string][]byte {
		out := map[string][]byte{}
		for k, v := range cm.Data {
			out[k] = []byte(v)
		}
		for k, v := range cm.BinaryData {
			out[k] = v
		}
		return out
	}
	for _, cm := range own {
		write("own", cm.Name, cmData(cm))
	}
	for _, name := range sortedKeys(refs.configMaps) {
		write("configmap", name, cmData(refs.configMaps[name]))
	}
	for _, name := range sortedKeys(refs.secrets) {
		s := refs.secrets[name]
		data := map[string][]byte{}
		for k, v := range s.Data {
			data[k] = v
		}
		write("secret", name, data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// serverArgs are the server's command-line flags from the spec. Secrets
// (token, JWT key) come through the environment, never the arguments.
func serverArgs(inst *platformv1alpha1.Instance) []string {
	args := []string{
		"server",
		"--port=" + strconv.Itoa(int(port(inst))),
		"--metrics-port=" + strconv.Itoa(metricsPort),
		"--provider=" + string(inst.Spec.Provider),
	}
	if inst.Spec.Model != "" {
		args = append(args, "--model="+inst.Spec.Model)
	}
	if tlsEnabled(inst) {
		args = append(args, "--tls-cert="+tlsPath+"/tls.crt", "--tls-key="+tlsPath+"/tls.key")
	}
	if s := inst.Spec.Server.Security; s != nil {
		if s.BindAddress != "" {
			args = append(args, "--bind-address="+s.BindAddress)
		}
		if s.RateLimitRPS != nil {
			args = append(args, "--rate-limit-rps="+strconv.Itoa(int(*s.RateLimitRPS)))
		}
		if s.RateLimitBurst != nil {
			args = append(args, "--rate-limit-burst="+strconv.Itoa(int(*s.RateLimitBurst)))
		}
	}
	if watcherEnabled(inst) {
		args = append(args, "--watch-config="+watchPath+"/"+watchFile)
	}
	return args
}

func image(inst *platformv1alpha1.Instance, cfg Config) string {
	repo, tag := cfg.Image, cfg.Tag
	if inst.Spec.Image.Repository != "" {
		repo = inst.Spec.Image.Repository
	}
	if inst.Spec.Image.Tag != "" {
		tag = inst.Spec.Image.Tag
	}
	if tag == "" || strings.Contains(repo, "@") {
		return repo
	}
	return repo + ":" + tag
}

func restrictedContainerSecurity() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		RunAsNonRoot:             ptr.To(true),
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// deployment is Deployment <name>.
func deployment(inst *platformv1alpha1.Instance, cfg Config, hash string) *appsv1.Deployment {
	env := []corev1.EnvVar{}
	if t := inst.Spec.Server.Token; t != nil {
		key := t.Key
		if key == "" {
			key = defaultTokenKey
		}
		env = append(env, secretEnv(EnvTokenVar, t.Name, key))
	}
	if s := inst.Spec.Server.Security; s != nil && s.JWTSecretRef != nil {
		env = append(env, secretEnv(EnvJWTVar, s.JWTSecretRef.Name, s.JWTSecretRef.Key))
	}
	env = append(env, inst.Spec.ExtraEnv...)

	envFrom := []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: inst.Name}}}}
	if inst.Spec.APIKeys != nil {
		envFrom = append(envFrom, corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: inst.Spec.APIKeys.Name}}})
	}

	volumes := []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	mounts := []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}}
	if p := inst.Spec.Persistence; p != nil && p.Enabled {
		volumes = append(volumes, corev1.Volume{Name: "sessions", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: inst.Name + "-sessions"}}})
	} else {
		volumes = append(volumes, corev1.Volume{Name: "sessions", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	}
	mounts = append(mounts, corev1.VolumeMount{Name: "sessions", MountPath: sessionsPath})
	if tlsEnabled(inst) {
		volumes = append(volumes, corev1.Volume{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: inst.Spec.Server.TLS.SecretName}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "tls", MountPath: tlsPath, ReadOnly: true})
	}
	if watcherEnabled(inst) {
		volumes = append(volumes, corev1.Volume{Name: "watch-config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: inst.Name + "-watch-config"}}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "watch-config", MountPath: watchPath, ReadOnly: true})
	}
	if a := inst.Spec.Agents; a != nil {
		if a.ConfigMapRef != "" {
			volumes = append(volumes, corev1.Volume{Name: "agents", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: a.ConfigMapRef}}}})
			mounts = append(mounts, corev1.VolumeMount{Name: "agents", MountPath: agentsPath, ReadOnly: true})
		}
		if a.SkillsConfigMapRef != "" {
			volumes = append(volumes, corev1.Volume{Name: "skills", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: a.SkillsConfigMapRef}}}})
			mounts = append(mounts, corev1.VolumeMount{Name: "skills", MountPath: skillsPath, ReadOnly: true})
		}
	}
	var initContainers []corev1.Container
	if p := inst.Spec.Plugins; p != nil {
		switch {
		case p.PVCName != "":
			volumes = append(volumes, corev1.Volume{Name: "plugins", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: p.PVCName, ReadOnly: true}}})
			mounts = append(mounts, corev1.VolumeMount{Name: "plugins", MountPath: pluginsPath, ReadOnly: true})
		case p.Image != "":
			// The init container copies its /plugins into an emptyDir the
			// server mounts read-only.
			volumes = append(volumes, corev1.Volume{Name: "plugins", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
			mounts = append(mounts, corev1.VolumeMount{Name: "plugins", MountPath: pluginsPath, ReadOnly: true})
			initContainers = append(initContainers, corev1.Container{
				Name:            "plugins",
				Image:           p.Image,
				Command:         []string{"sh", "-c", "cp -R /plugins/. " + pluginsPath + "/"},
				VolumeMounts:    []corev1.VolumeMount{{Name: "plugins", MountPath: pluginsPath}},
				SecurityContext: restrictedContainerSecurity(),
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
				},
			})
		}
	}

	labels := objectLabels(inst)
	c := corev1.Container{
		Name:            containerName,
		Image:           image(inst, cfg),
		ImagePullPolicy: inst.Spec.Image.PullPolicy,
		Command:         []string{"chatcli"},
		Args:            serverArgs(inst),
		Ports: []corev1.ContainerPort{
			{Name: "grpc", ContainerPort: port(inst), Protocol: corev1.ProtocolTCP},
			{Name: "metrics", ContainerPort: metricsPort, Protocol: corev1.ProtocolTCP},
		},
		EnvFrom:         envFrom,
		Env:             env,
		Resources:       inst.Spec.Resources,
		VolumeMounts:    mounts,
		ReadinessProbe:  probe(inst, 5, 10),
		LivenessProbe:   probe(inst, 15, 20),
		SecurityContext: restrictedContainerSecurity(),
	}
	return &appsv1.Deployment{
		ObjectMeta: objectMeta(inst, inst.Name),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas(inst)),
			Selector: &metav1.LabelSelector{MatchLabels: selectorLabels(inst)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{AnnotationConfigHash: hash}},
				Spec: corev1.PodSpec{
					ServiceAccountName: inst.Name,
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   ptr.To(true),
						RunAsUser:      ptr.To[int64](runAsUser),
						RunAsGroup:     ptr.To[int64](runAsUser),
						FSGroup:        ptr.To[int64](runAsUser),
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					InitContainers: initContainers,
					Containers:     []corev1.Container{c},
					Volumes:        volumes,
				},
			},
		},
	}
}

// probe checks the server's grpc.health.v1 service. The kubelet's gRPC
// probe speaks plaintext only, so a TLS server is probed on its TCP port.
func probe(inst *platformv1alpha1.Instance, delay, period int32) *corev1.Probe {
	p := &corev1.Probe{InitialDelaySeconds: delay, PeriodSeconds: period, TimeoutSeconds: 5, FailureThreshold: 3}
	if tlsEnabled(inst) {
		p.TCPSocket = &corev1.TCPSocketAction{Port: intstr.FromString("grpc")}
	} else {
		p.GRPC = &corev1.GRPCAction{Port: port(inst)}
	}
	return p
}

func secretEnv(name, secret, key string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key,
	}}}
}
