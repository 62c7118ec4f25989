#!/usr/bin/env bash
# Runs every test of roomcast on a fresh machine: installs the test clients (npm packages from the
# committed lockfile, Python packages into .venv, Debian's chromium, redis-server, nginx and haproxy
# when missing), builds, then runs the Rust unit, doc and integration tests, the Socket.IO/Engine.IO
# protocol conformance suite, the socket.io-client and python-socketio behaviour suites (library
# testbed and broker), brokers as a cluster over Redis (also behind nginx and HAProxy run from
# deploy/), the browser tests (the hello example, the Socket.IO Admin UI against the broker), a short
# fuzzing run of every decoder, and a short load-generator smoke run. Exits non-zero on the first
# failure.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== installing test clients"
(cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
# The load generator's cluster smoke test runs the Node reference server with its Redis adapter.
npm ci --prefix benches/reference --no-audit --no-fund --loglevel=error
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r tests/py/requirements.txt
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v ss >/dev/null 2>&1 || missing="$missing iproute2"
command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"
# the load balancers deploy/ ships, which the cluster tests run (Debian puts them in /usr/sbin, not on
# every user's PATH)
export PATH="$PATH:/usr/sbin"
command -v nginx >/dev/null 2>&1 || missing="$missing nginx"
command -v haproxy >/dev/null 2>&1 || missing="$missing haproxy"
# redis-cli (Debian's redis-tools, which redis-server depends on) joins the test Redis Cluster.
command -v redis-cli >/dev/null 2>&1 || missing="$missing redis-tools"
if [ -n "$missing" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== structure: lower layers name no higher one; files <= 400 lines, functions <= 80"
bash scripts/test-check-scripts.sh
bash scripts/check-layers.sh
bash scripts/check-size.sh

echo "== build"
cargo build --workspace --all-targets --quiet

echo "== the README's run command picks the broker binary (cargo run, default-run)"
version=$(cargo run --quiet -- --version)
[ "$version" = "roomcast $(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)" ] || {
  echo "cargo run -- --version printed '$version'" >&2
  exit 1
}

echo "== Rust unit and doc tests (the library and broker, the load generator)"
cargo test --workspace --quiet

echo "== protocol conformance (Engine.IO + Socket.IO suites, port 3000)"
node --test --test-concurrency=1 tests/js/conformance/
echo "== the same, embedded in a plain actix-web app (Server::configure, WebSockets through actix-ws)"
ROOMCAST_EMBEDDED=1 node --test --test-concurrency=1 tests/js/conformance/

echo "== socket.io-client behaviour"
node --test tests/js/client/

echo "== broker behaviour (config, room API, JWT, admin API, Admin UI, drain)"
node --test tests/js/broker/

echo "== cluster: brokers through a redis-server, and a 3-master Redis Cluster, of their own (free ports,"
echo "   no persistence), and behind nginx and HAProxy run from deploy/ (free ports, temporary directories)"
node --test --test-concurrency=1 tests/js/cluster/

echo "== hello example (ports 8000 and 5500) and the Admin UI (port 0) in headless Chromium"
node --test --test-concurrency=1 tests/js/browser/

echo "== coverage-guided fuzzing smoke (every decoder, 10 s per target; nightly + cargo-fuzz)"
./scripts/fuzz.sh 10

echo "== python-socketio behaviour (testbed and broker)"
.venv/bin/pytest tests/py -q
