#!/usr/bin/env bash
# Fails when a production binary links a pseudo-version (an untagged
# commit) of google.golang.org/protobuf or google.golang.org/grpc: those two
# parse every byte a peer sends, so they ship only as tagged releases.
# Usage: hack/check-pseudo-versions.sh [binary...]; without arguments it
# builds the six services into a temporary directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
guarded='google.golang.org/protobuf|google.golang.org/grpc'
# vX.Y.Z-yyyymmddhhmmss-abcdef012345, possibly after a pre-release (-0., -pre.0.).
pseudo='[0-9]{14}-[0-9a-f]{12}$'

binaries=("$@")
if [[ ${#binaries[@]} -eq 0 ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  services=(instance-operator watcher-bridge correlator analyzer remediator postmortem-writer)
  (cd "$root" && GOWORK=off go build -o "$tmp/" "${services[@]/#/./services/}")
  for svc in "${services[@]}"; do binaries+=("$tmp/$svc"); done
fi

failed=0
for bin in "${binaries[@]}"; do
  # dep and => (replacement) lines: path, version, sum.
  bad=$(go version -m "$bin" | awk -v g="^($guarded)$" -v p="$pseudo" \
    '($1 == "dep" || $1 == "=>") && $2 ~ g && $3 ~ p { print $2 " " $3 }')
  if [[ -n "$bad" ]]; then
    echo "$(basename "$bin") links a pseudo-version:"; echo "$bad" | sed 's/^/  /'
    failed=1
  fi
done
if [[ $failed -ne 0 ]]; then
  echo "pin google.golang.org/protobuf and google.golang.org/grpc to tagged releases"; exit 1
fi
echo "no pseudo-version of protobuf or grpc in ${#binaries[@]} binaries"
