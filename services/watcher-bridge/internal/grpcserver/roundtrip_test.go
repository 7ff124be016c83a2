package grpcserver

import (
	"testing"
	"time"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/services/watcher-bridge/internal/chatcli"
)

// TestServedAlertTypesMapBack guards the two directions of the ChatCLI
// alert-type mapping against drifting apart: every type GetAlerts serves
// must map back to the signal type it came from when polled.
func TestServedAlertTypesMapBack(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, signal := range platformv1alpha1.SignalTypes {
		alertType := chatcli.AlertType(signal)
		if alertType == string(signal) {
			continue // served under the platform's own name
		}
		t.Run(alertType, func(t *testing.T) {
			s, err := chatcli.MapAlert(chatcli.Alert{
				Type: alertType, Severity: "WARNING", Namespace: "prod", Deployment: "api", Object: "worker-1",
				TimestampUnix: now.Unix(),
			}, now)
			if err != nil {
				t.Fatalf("a served alert type does not map back: %v", err)
			}
			if s.Type != signal {
				t.Errorf("%s maps back to %s, want %s", alertType, s.Type, signal)
			}
		})
	}
}
