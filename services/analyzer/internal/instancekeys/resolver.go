// Package instancekeys finds the provider of an incident's namespace: the
// Instance there that names the provider, built from the keys of its
// apiKeys Secret. The Secret is read when a request needs it, through the
// API server (no cache of Secrets), and its keys live only inside the
// provider built from them; a rotated Secret (a new resourceVersion) builds
// a new provider.
package instancekeys

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/llm"
	"github.com/chatcli/aiops/libs/llm/providers"
)

// Resolver builds providers from Instances' apiKeys Secrets.
type Resolver struct {
	// Instances lists Instances (the manager's cache).
	Instances client.Reader
	// Secrets reads one Secret at a time (the API reader: never a cache
	// of every Secret of the cluster).
	Secrets client.Reader
	// Settings apply to every provider built (max tokens, temperature).
	Settings providers.Settings
	// Policy wraps every provider built with retries and a breaker.
	Policy llm.Policy

	mu    sync.Mutex
	built map[string]built
}

type built struct {
	resourceVersion string
	provider        llm.Provider
}

// Provider returns the provider name as configured by the first Instance
// (by name) of namespace whose spec.provider is name and that has an
// apiKeys Secret; llm.ErrNotConfigured when there is none, or when the
// Secret lacks the provider's variables.
func (r *Resolver) Provider(ctx context.Context, namespace string, name platformv1alpha1.Provider) (llm.Provider, error) {
	if namespace == "" || name == platformv1alpha1.ProviderBuiltin {
		return nil, fmt.Errorf("%s: %w", name, llm.ErrNotConfigured)
	}
	list := &platformv1alpha1.InstanceList{}
	if err := r.Instances.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("list the Instances of %s: %w", namespace, err)
	}
	slices.SortFunc(list.Items, func(a, b platformv1alpha1.Instance) int { return strings.Compare(a.Name, b.Name) })
	for _, inst := range list.Items {
		if inst.Spec.Provider != name || inst.Spec.APIKeys == nil || inst.Spec.APIKeys.Name == "" {
			continue
		}
		secret := &corev1.Secret{}
		if err := r.Secrets.Get(ctx, client.ObjectKey{Namespace: namespace, Name: inst.Spec.APIKeys.Name}, secret); err != nil {
			// The error names the Secret, never its content.
			if apierrors.IsNotFound(err) {
				err = llm.ErrNotConfigured
			}
			return nil, fmt.Errorf("%s: read the apiKeys Secret of Instance %s/%s: %w", name, namespace, inst.Name, err)
		}
		return r.build(namespace, secret, name)
	}
	return nil, fmt.Errorf("%s: no Instance of %s configures it: %w", name, namespace, llm.ErrNotConfigured)
}

func (r *Resolver) build(namespace string, secret *corev1.Secret, name platformv1alpha1.Provider) (llm.Provider, error) {
	key := namespace + "/" + secret.Name + "/" + string(name)
	r.mu.Lock()
	defer r.mu.Unlock()
	if b, ok := r.built[key]; ok && b.resourceVersion == secret.ResourceVersion {
		return b.provider, nil
	}
	p, err := providers.New(name, providers.MapKeys(secret.Data), r.Settings)
	if err != nil {
		return nil, err
	}
	wrapped := llm.NewResilient(p, r.Policy)
	if r.built == nil {
		r.built = map[string]built{}
	}
	r.built[key] = built{resourceVersion: secret.ResourceVersion, provider: wrapped}
	return wrapped, nil
}

// Tuning returns what the first Instance (by name) of namespace whose
// spec.provider is name sets for the calls to it (max tokens, temperature,
// timeout), whoever's keys the call uses; zero values when it sets none,
// or when no Instance names the provider, so that the flags apply. A
// failed list also leaves the flags in force: tuning is never a reason to
// fail an analysis.
func (r *Resolver) Tuning(ctx context.Context, namespace string, name platformv1alpha1.Provider) llm.Tuning {
	if namespace == "" {
		return llm.Tuning{}
	}
	list := &platformv1alpha1.InstanceList{}
	if err := r.Instances.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return llm.Tuning{}
	}
	slices.SortFunc(list.Items, func(a, b platformv1alpha1.Instance) int { return strings.Compare(a.Name, b.Name) })
	for _, inst := range list.Items {
		if inst.Spec.Provider != name {
			continue
		}
		t := llm.Tuning{Temperature: inst.Spec.Temperature}
		if inst.Spec.MaxTokens != nil {
			t.MaxTokens = int(*inst.Spec.MaxTokens)
		}
		if inst.Spec.ProviderTimeout != nil {
			t.Timeout = inst.Spec.ProviderTimeout.Duration
		}
		return t
	}
	return llm.Tuning{}
}
