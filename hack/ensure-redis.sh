#!/usr/bin/env bash
# Installs Debian's redis-server when it is missing. Tests start their own
# server on a free port; they never use a shared one.
set -euo pipefail
# Installed even when REDIS_URL is set: the tests that stop Redis on purpose
# start a private redis-server.
if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "redis-server is missing and installing it needs root: run 'apt-get install redis-server' as root" >&2
    exit 1
  fi
  sudo="sudo -n"
fi
echo ">> installing redis-server with apt-get"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends redis-server
