#!/usr/bin/env bash
# Builds a binary from one of the pinned modules under hack/ into bin/, and
# skips the build when the binary exists and the module's pins have not
# changed since it was built.
#   hack/build-pinned.sh <module dir> <package> <output name>
# With BUILD_LOCK set to a file, the build (not the cache check) runs under
# flock on it, so builds of machines shared by several jobs take turns.
set -euo pipefail
moddir=$1 pkg=$2 name=$3
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/bin/$name"
stamp="$root/bin/.$name.pins"
pins=$(cd "$root/$moddir" && cat go.mod go.sum $(find . -name '*.go' | sort) | sha256sum | cut -d' ' -f1)
if [[ -x "$out" && -f "$stamp" && "$(cat "$stamp")" == "$pins" ]]; then
  exit 0
fi
mkdir -p "$root/bin"
if [[ -n "${BUILD_LOCK:-}" ]]; then
  exec 9>"$BUILD_LOCK"
  flock 9
fi
echo ">> building $name from $moddir (first build of kube-apiserver takes several minutes)"
start=$(date +%s)
(cd "$root/$moddir" && GOWORK=off GOFLAGS=-mod=readonly go build -trimpath -o "$out.tmp" "$pkg")
mv "$out.tmp" "$out"
echo "$pins" > "$stamp"
echo ">> built $name in $(( $(date +%s) - start ))s"
