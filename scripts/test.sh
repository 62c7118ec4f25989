#!/usr/bin/env bash
# Runs every test of roomcast on a fresh machine: installs the test clients (npm packages from the
# committed lockfile, Python packages into .venv), builds, then runs the Rust unit and doc tests,
# the Socket.IO/Engine.IO protocol conformance suite, and the socket.io-client and python-socketio
# behaviour suites. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== installing test clients"
(cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r tests/py/requirements.txt

echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings

echo "== build"
cargo build --all-targets --quiet

echo "== Rust unit and doc tests"
cargo test --quiet

echo "== protocol conformance (Engine.IO + Socket.IO suites, port 3000)"
node --test --test-concurrency=1 tests/js/conformance/

echo "== socket.io-client behaviour"
node --test tests/js/client/

echo "== python-socketio behaviour"
.venv/bin/pytest tests/py -q
