#!/usr/bin/env bash
# Runs `buf breaking` (buf.yaml: WIRE_JSON) on the proto/ module of the
# working tree against the one at the HEAD of the local branch main.
#
# The platform APIs are pre-release v1, so a change that breaks them may be
# made on purpose: once it is committed on main, main's HEAD is the new
# baseline and the check passes again. What it catches is a breaking change
# that main does not hold yet: an uncommitted edit (the working tree is
# compared, not the last commit), or a branch that is not merged.
#
# It skips, with a message and exit status 0, where there is nothing to
# compare against: outside a git checkout, without a local branch main (a
# shallow or single-branch clone), or when main has no buf module.
set -euo pipefail
cd "$(dirname "$0")/.."

skip() {
  echo "buf-breaking: skipped: $*"
  exit 0
}

git rev-parse --is-inside-work-tree >/dev/null 2>&1 || skip "not a git checkout"
[[ "$(git rev-parse --show-toplevel)" == "$(pwd -P)" ]] || skip "the repository root is not a git checkout of its own"
git rev-parse --verify --quiet 'refs/heads/main^{commit}' >/dev/null ||
  skip "no local branch main to compare against (a shallow or single-branch clone of another branch?)"
git cat-file -e 'main:buf.yaml' 2>/dev/null && git cat-file -e 'main:proto' 2>/dev/null ||
  skip "main has no buf module (buf.yaml and proto/) at its HEAD"

echo "buf-breaking: proto/ of the working tree against main ($(git rev-parse --short main))"
exec env GOWORK=off "${GO:-go}" tool -modfile=hack/tools/go.mod buf breaking --against '.git#branch=main'
