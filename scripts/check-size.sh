#!/usr/bin/env bash
# Checks the size limits of issue 9: no Rust file under src/, load/src/ or benches/socketioxide/src/
# over 400 lines, no function in them (free, method, test, nested) over 80 lines, counted from the
# line with `fn` to its closing brace. Run from the repository root; exits 1 listing `path N lines` and `path:line fn_name N lines`
# for each one over, 0 printing a short summary.
set -euo pipefail

max_file_lines=400
max_fn_lines=80

PYTHONDONTWRITEBYTECODE=1 exec python3 "$(dirname "$0")/lib/sizes.py" \
  "$max_file_lines" "$max_fn_lines" src load/src benches/socketioxide/src
