#!/usr/bin/env bash
# Checks that the crate's layers import downward only (issue 9): the protocol, Engine.IO and
# transport layers name none of the modules built on them, and rooms do not name sockets. A path
# counts however it is written: `crate::socket::X`, a grouped `use crate::{engine::Conn,
# socket::Socket}` (also over several lines), `super::super::socket`; doc comments and strings count
# too, plain `//` comments do not. Run from the repository root; exits 1 listing each offending
# `file:line: text`, 0 printing "layers: ok (N files checked)".
set -euo pipefail

# dirs (comma-separated) : top-level crate modules they must not name
rules=(
  "src/protocol,src/engine,src/transport:socket,namespace,server,broker,admin,admin_ui"
  "src/room:socket"
)

PYTHONDONTWRITEBYTECODE=1 exec python3 "$(dirname "$0")/lib/layers.py" "${rules[@]}"
