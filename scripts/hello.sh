#!/usr/bin/env bash
# The seed's browser example in one command: the hello server (examples/hello.rs, Socket.IO on
# 127.0.0.1:8000) and the static page with the socket.io-client build (tests/js/browser/
# static-server.mjs, http://127.0.0.1:5500/). Open that page; Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d tests/js/node_modules/socket.io-client ] || (cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
cargo build --quiet --example hello
target/debug/examples/hello &
server=$!
node tests/js/browser/static-server.mjs &
page=$!
trap 'kill "$server" "$page" 2>/dev/null || true' EXIT INT TERM
echo "open http://127.0.0.1:5500/ (Ctrl-C stops)"
wait -n "$server" "$page"
