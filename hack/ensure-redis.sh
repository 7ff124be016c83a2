#!/usr/bin/env bash
# Installs Debian's redis-server when it is missing. Tests start their own
# server on a free port; they never use a shared one.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1 || [[ -n "${REDIS_URL:-}" ]]; then
  exit 0
fi
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
echo ">> installing redis-server with apt-get"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends redis-server
