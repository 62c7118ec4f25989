#!/usr/bin/env bash
# Runs the browser test of the seed's hello example (examples/hello.rs + examples/hello/index.html in
# headless Chromium, tests/js/browser/). Installs Debian's chromium package when it is missing (needs root
# or sudo), the npm test packages when they are missing, builds the example, then runs the test.
# Ports 8000 and 5500 on 127.0.0.1 must be free.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  echo "== installing chromium"
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update && apt-get install -y chromium
  else
    sudo apt-get update && sudo apt-get install -y chromium
  fi
fi

if [ ! -d tests/js/node_modules/socket.io-client ]; then
  (cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
fi

echo "== build the hello example"
cargo build --example hello --quiet

echo "== hello example in headless Chromium"
node --test --test-concurrency=1 tests/js/browser/
