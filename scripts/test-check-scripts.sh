#!/usr/bin/env bash
# Tests check-layers.sh and check-size.sh on small fixture trees made in a temporary directory:
# each case is a repository root holding a few .rs files, the script's exit code and the lines it
# lists are compared with what they must be. Run from anywhere; exits 1 on the first wrong result.
set -euo pipefail

scripts="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=0

# new_tree NAME: a repository root for one case, with the (empty) folders both scripts read
new_tree() {
  rm -rf "${work:?}/$1"
  mkdir -p "$work/$1"/src/{protocol,engine,transport,room} "$work/$1/load/src" \
    "$work/$1/benches/socketioxide/src"
  cd "$work/$1"
}

# expect SCRIPT CODE EXPECTED: runs SCRIPT in the current tree; its exit code must be CODE and its
# output lines, the last (summary) one left out, must be EXPECTED (one offending line each)
expect() {
  local script=$1 code=$2 expected=$3 out rc=0
  out=$("$scripts/$script" 2>&1) || rc=$?
  local listed
  listed=$(printf '%s\n' "$out" | sed '$d')
  if [ "$rc" != "$code" ] || [ "$listed" != "$expected" ]; then
    echo "FAIL $(basename "$PWD"): $script exited $rc (want $code); output:" >&2
    printf '%s\n' "$out" | sed 's/^/    /' >&2
    echo "  wanted these lines before the summary:" >&2
    printf '%s\n' "$expected" | sed 's/^/    /' >&2
    failed=1
  else
    echo "ok   $(basename "$PWD"): $(printf '%s\n' "$out" | tail -n 1)"
  fi
}

# pad N: N lines of filler statements
pad() {
  local i
  for ((i = 0; i < $1; i++)); do echo "    let _x = $i;"; done
}

mkdir -p "$work"

# ---- check-layers.sh

new_tree layers-clean
mkdir -p src/protocol src/engine src/transport src/room
cat >src/lib.rs <<'EOF'
pub mod engine;
pub use socket::Socket;
pub use options::Parser;
EOF
cat >src/engine/mod.rs <<'EOF'
//! The Engine.IO layer: a socket here is a plain word, not a path.
pub mod conn;
use super::protocol::Frame;
use crate::{engine::conn::Conn, protocol::ids::Sid};
use crate::socketry::Wire; // a module whose name only starts like a forbidden one
use crate::Parser; // re-exported from options, allowed
// plain comments do not count: crate::socket, crate::{server, admin}
/* nor block comments: crate::server::Server */
pub(super) fn socket_count(socket: &str) -> usize { socket.len() }
EOF
cat >src/engine/conn.rs <<'EOF'
use super::super::engine::registry; // climbs to crate, back into engine
#[cfg(test)]
mod tests {
    use super::super::super::protocol::x; // tests -> conn -> engine -> crate
    use super::super::Conn;
}
EOF
cat >src/room/mod.rs <<'EOF'
use crate::server::ServerInner; // rooms may name the server, only not sockets
EOF
expect check-layers.sh 0 ""

new_tree layers-grouped
mkdir -p src/engine
cat >src/engine/session.rs <<'EOF'
use crate::{engine::Conn, socket::Socket};
EOF
expect check-layers.sh 1 "src/engine/session.rs:1: use crate::{engine::Conn, socket::Socket};  [crate::socket]"

new_tree layers-grouped-multiline
mkdir -p src/transport
cat >src/transport/mod.rs <<'EOF'
use crate::{
    engine::{Conn, PushOutcome},
    protocol::Frame,
    namespace::{
        Namespace as Ns,
        Unresolved,
    },
    admin_ui::Stats,
};
EOF
expect check-layers.sh 1 "src/transport/mod.rs:5: Namespace as Ns,  [crate::namespace]
src/transport/mod.rs:6: Unresolved,  [crate::namespace]
src/transport/mod.rs:8: admin_ui::Stats,  [crate::admin_ui]"

new_tree layers-super
mkdir -p src/engine src/protocol/socketio
cat >src/engine/session.rs <<'EOF'
use super::super::socket::Socket;
#[cfg(test)]
mod tests {
    use super::super::super::server::Server;
}
EOF
cat >src/engine/mod.rs <<'EOF'
use super::broker::Jwt;
EOF
cat >src/protocol/socketio/decode.rs <<'EOF'
fn f() { let _ = super::super::super::admin::routes(); }
EOF
expect check-layers.sh 1 "src/protocol/socketio/decode.rs:1: fn f() { let _ = super::super::super::admin::routes(); }  [crate::admin]
src/engine/mod.rs:1: use super::broker::Jwt;  [crate::broker]
src/engine/session.rs:1: use super::super::socket::Socket;  [crate::socket]
src/engine/session.rs:4: use super::super::super::server::Server;  [crate::server]"

new_tree layers-docs-strings-reexports
mkdir -p src/protocol src/room
cat >src/lib.rs <<'EOF'
pub use socket::{AckError, Socket as PublicSocket};
EOF
cat >src/protocol/mod.rs <<'EOF'
//! talks to crate::socket
/*! and to crate::server */
/// See [`crate::PublicSocket`].
fn f() { log("http://host/x"); let _ = crate::namespace::all(); }
EOF
cat >src/room/mod.rs <<'EOF'
use crate::AckError;
fn g() { let _ = $crate::socket::emit; }
EOF
expect check-layers.sh 1 "src/protocol/mod.rs:1: //! talks to crate::socket  [crate::socket]
src/protocol/mod.rs:2: /*! and to crate::server */  [crate::server]
src/protocol/mod.rs:3: /// See [\`crate::PublicSocket\`].  [crate::socket]
src/protocol/mod.rs:4: fn f() { log(\"http://host/x\"); let _ = crate::namespace::all(); }  [crate::namespace]
src/room/mod.rs:1: use crate::AckError;  [crate::socket]
src/room/mod.rs:2: fn g() { let _ = \$crate::socket::emit; }  [crate::socket]"

# ---- check-size.sh

new_tree size-ok
{
  echo "fn exactly_80() {"
  echo '    let s = "{"; // a brace in a string'
  echo "    let r = r#\"}\"{\"#; // and in a raw string with a quote"
  echo "    let c = '{'; let d = '}'; let q = '\\''; // in chars"
  echo "    /* } nested /* { */ } */"
  pad 74
  echo "}"
  echo "fn with_lifetime<'a>(x: &'a str, y: [u8; 4]) -> &'a str {"
  echo "    let _ = '\\u{7b}';"
  echo "    x"
  echo "}"
  echo "trait T {"
  echo "    fn no_body(&self);"
  echo "    fn default_body(&self) { let _ = \"}\"; }"
  echo "}"
} >src/a.rs
pad 400 >load/src/b.rs
expect check-size.sh 0 ""

new_tree size-over
{
  echo "fn string_braces() {"
  echo '    let s = "{{{";'
  echo "    let c = '{';"
  pad 78
  echo "}"
  echo "impl X {"
  echo "    fn raw_string(&self) {"
  echo "        let r = r##\"\"#}\"##;"
  pad 78
  echo "    }"
  echo "}"
  echo "fn outer() {"
  echo "    fn nested() {"
  pad 81
  echo "    }"
  echo "}"
} >src/a.rs
pad 401 >load/src/long.rs
pad 401 >benches/socketioxide/src/long.rs
expect check-size.sh 1 "src/a.rs:1 string_braces 82 lines
src/a.rs:84 raw_string 81 lines
src/a.rs:166 outer 85 lines
src/a.rs:167 nested 83 lines
load/src/long.rs 401 lines
benches/socketioxide/src/long.rs 401 lines"

if [ "$failed" != 0 ]; then
  echo "check scripts: FAILED" >&2
  exit 1
fi
echo "check scripts: all cases pass"
