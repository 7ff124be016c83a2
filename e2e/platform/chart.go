package platform

import (
	"context"
	"fmt"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// installChart installs the chart in its local-processes mode with the Helm
// Go SDK, as `helm install <release> <chart> -n <namespace>
// --create-namespace --set localProcesses=true` would, and waits for its
// CRDs to be Established.
func (p *Platform) installChart(ctx context.Context, kubeconfig, chartDir string, values map[string]any) error {
	chrt, err := loader.Load(chartDir)
	if err != nil {
		return fmt.Errorf("load chart %s: %w", chartDir, err)
	}
	p.appVersion = chrt.Metadata.AppVersion
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &kubeconfig
	namespace := p.Namespace
	flags.Namespace = &namespace
	cfg := new(action.Configuration)
	if err := cfg.Init(flags, p.Namespace, "secret", func(string, ...any) {}); err != nil {
		return fmt.Errorf("initialise helm: %w", err)
	}
	install := action.NewInstall(cfg)
	install.ReleaseName = p.Release
	install.Namespace = p.Namespace
	install.CreateNamespace = true
	install.Timeout = 2 * time.Minute
	if _, err := install.RunWithContext(ctx, chrt, values); err != nil {
		return fmt.Errorf("helm install %s: %w", p.Release, err)
	}
	return waitCRDsEstablished(ctx, p.Client)
}

func waitCRDsEstablished(ctx context.Context, c client.Client) error {
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		var crds apiextensionsv1.CustomResourceDefinitionList
		if err := c.List(ctx, &crds, client.MatchingLabels{"app.kubernetes.io/part-of": "chatcli-aiops"}); err != nil {
			return false, nil
		}
		if len(crds.Items) == 0 {
			return false, nil
		}
		for _, crd := range crds.Items {
			established := false
			for _, cond := range crd.Status.Conditions {
				if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					established = true
				}
			}
			if !established {
				return false, nil
			}
		}
		return true, nil
	})
}
