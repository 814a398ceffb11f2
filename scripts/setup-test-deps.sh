#!/usr/bin/env bash
# Installs what the tests need beyond Go and Node, if it is missing:
# the npm packages (CDK CLI, kubectl layer), a real S3 server (versitygw)
# for the registry tests, Chromium for the portal's browser test and
# python3 for the DaskHub hub-configuration tests.
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

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)   # the portal's browser test
command -v python3 >/dev/null 2>&1 || missing+=(python3)     # runs DaskHub's generated hub config
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian's ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
