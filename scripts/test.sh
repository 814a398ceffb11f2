#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian machine with Go and Node:
# installs what the tests need, then formatting, vet and every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-test-deps.sh

# node_modules/.bin first: on Linux x64 it holds the pinned Node.js 24, which
# the jsii runtime of the stack tests then uses instead of an older system Node.
export PATH="$PWD/node_modules/.bin:$(go env GOPATH)/bin:$PATH"
export VERSITYGW="${VERSITYGW:-$(command -v versitygw)}"
export CHROMIUM="${CHROMIUM:-$(command -v chromium)}"
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...
go test -timeout 45m -count=1 ./...
