package anomaly

import "github.com/chatcli/aiops/libs/pipeline"

// anomalyToIssue runs from an Anomaly's creation to its first correlation
// into an Issue (libs/pipeline).
var anomalyToIssue = pipeline.NewStage("correlator", "anomaly_to_issue", "From an Anomaly's creation to its correlation into an Issue.")
