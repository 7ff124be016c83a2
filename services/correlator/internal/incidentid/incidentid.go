// Package incidentid gives an Issue its INC-YYYYMMDD-NNN id from Redis's
// daily sequence (redisx.NextIncidentID). The sequence restarts when
// Redis loses its data, so an id that another Issue already holds (its
// label platform.chatcli.io/incident-id, read from the API server) is
// skipped. The Anomaly reconciler labels a new Issue with one at creation;
// the Issue reconciler gives one to any Issue created without it (Redis
// was down) and copies the label into status.incidentID.
package incidentid

import (
	"context"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/redisx"
)

// maxTaken is how many taken ids in a row Next skips before it gives up.
const maxTaken = 20

// ErrUnavailable means the sequence cannot be read: no Redis is
// configured, or it does not answer. The id is given later.
var ErrUnavailable = errors.New("the incident sequence is unavailable")

// Allocator hands out incident ids. Reader must read from the API server,
// not a cache: an id given a moment ago must be seen as taken.
type Allocator struct {
	Redis  *redisx.Client // nil: every Next is ErrUnavailable
	Reader client.Reader
}

// Next returns the next free id of now's UTC day.
func (a Allocator) Next(ctx context.Context, now time.Time) (string, error) {
	if a.Redis == nil {
		return "", fmt.Errorf("%w: Redis is not configured", ErrUnavailable)
	}
	for range maxTaken {
		id, err := a.Redis.NextIncidentID(ctx, now)
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		taken, err := a.taken(ctx, id)
		if err != nil {
			return "", err
		}
		if !taken {
			return id, nil
		}
	}
	return "", fmt.Errorf("%d incident ids in a row were taken", maxTaken)
}

func (a Allocator) taken(ctx context.Context, id string) (bool, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(platformv1alpha1.GroupVersion.WithKind("IssueList"))
	// Ids are unique per cluster, not per namespace.
	if err := a.Reader.List(ctx, list, client.MatchingLabels{platformv1alpha1.LabelIncidentID: id}, client.Limit(1)); err != nil {
		return false, fmt.Errorf("check incident id %s: %w", id, err)
	}
	return len(list.Items) > 0, nil
}
