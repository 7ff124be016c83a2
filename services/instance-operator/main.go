// Command instance-operator reconciles Instances into the Deployment, Service, RBAC, ConfigMaps and PVC of a ChatCLI server.
package main

import "github.com/chatcli/aiops/services/instance-operator/internal/app"

func main() { app.Main() }
