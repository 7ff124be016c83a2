#!/usr/bin/env bash
# Generates each service's RBAC from its +kubebuilder:rbac markers into
# charts/chatcli-aiops/files/rbac/<service>.yaml. The chart renders those
# files, and the tests grant them to the ServiceAccount a service runs as.
#
# With no arguments it regenerates every service's file and removes files of
# services that no longer exist; with arguments, only those services'.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/charts/chatcli-aiops/files/rbac"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
cd "$root"
services=("$@")
if [ ${#services[@]} -eq 0 ]; then
  services=()
  for dir in services/*/; do
    [ -f "$dir/main.go" ] && services+=("$(basename "$dir")")
  done
  rm -f "$out"/*.yaml
fi
for svc in "${services[@]}"; do
  GOWORK=off go tool -modfile=hack/tools/go.mod controller-gen \
    rbac:roleName="$svc" paths="./services/$svc/..." output:rbac:artifacts:config="$tmp/$svc"
  mv "$tmp/$svc/role.yaml" "$out/$svc.yaml"
done
