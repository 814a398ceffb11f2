#!/usr/bin/env bash
# Installs what the tests need beyond Go and Node, if it is missing:
# the npm packages (CDK CLI, kubectl layer), a real S3 server (versitygw)
# for the registry tests, and Chromium for the portal's browser test.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSITYGW_VERSION=v1.8.0

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund
fi

gobin="$(go env GOPATH)/bin"
if ! command -v versitygw >/dev/null 2>&1 && [ ! -x "$gobin/versitygw" ]; then
  echo "setup: building versitygw $VERSITYGW_VERSION (a real S3 server for the registry tests; about 2 minutes)"
  go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
fi

if ! command -v chromium >/dev/null 2>&1; then
  echo "setup: installing Debian's chromium (the portal's browser test)"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi
