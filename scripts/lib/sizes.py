"""Finds Rust files and functions over the size limits (see check-size.sh).

usage: sizes.py MAX_FILE_LINES MAX_FN_LINES DIR...

A function is every `fn name` with a body (free, method, test, nested; a trait method without a
body has none) and its size runs from the line with `fn` to the line of its closing brace,
inclusive. Braces are counted on the code only: comments, strings (raw ones too) and char literals
like '{' are skipped.

Prints `path N lines` per file and `path:line fn_name N lines` per function over its limit, then a
summary line; exits 1 when anything is over, 2 on a usage error.
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rustlex  # noqa: E402

_FN = re.compile(r"(?<![A-Za-z0-9_$])fn\s+([A-Za-z_][A-Za-z0-9_]*)")


def body_span(code, i):
    """(open, close) offsets of the body braces of the fn whose signature continues at `i`, or None
    when it has no body (ends at `;` first). `code` has no comments or literals."""
    depth = 0  # () and [] in the signature: `[u8; 4]` holds a `;` that does not end it
    n = len(code)
    while i < n:
        c = code[i]
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == ";" and depth == 0:
            return None
        elif c == "{" and depth == 0:
            break
        i += 1
    else:
        return None
    open_at, braces = i, 0
    while i < n:
        if code[i] == "{":
            braces += 1
        elif code[i] == "}":
            braces -= 1
            if braces == 0:
                return open_at, i
        i += 1
    return None


def functions(text):
    """(line, name, lines) of every fn with a body in Rust source `text`."""
    code = rustlex.mask(text)
    starts = rustlex.line_starts(text)
    for m in _FN.finditer(code):
        span = body_span(code, m.end())
        if span:
            first = rustlex.line_of(starts, m.start())
            last = rustlex.line_of(starts, span[1])
            yield first, m.group(1), last - first + 1


def rust_files(root):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith(".rs"):
                yield os.path.join(dirpath, name)


def main(argv):
    if len(argv) < 3 or not (argv[0].isdigit() and argv[1].isdigit()):
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    max_file, max_fn = int(argv[0]), int(argv[1])
    files = fns = 0
    over = []
    for root in argv[2:]:
        if not os.path.isdir(root):
            print(f"size: {root} is not a directory", file=sys.stderr)
            return 2
        for path in rust_files(root):
            with open(path, encoding="utf-8") as f:
                text = f.read()
            files += 1
            # as `wc -l` counts, plus a last line without its newline
            lines = text.count("\n") + (1 if text and not text.endswith("\n") else 0)
            if lines > max_file:
                over.append(f"{path} {lines} lines")
            for line, name, size in functions(text):
                fns += 1
                if size > max_fn:
                    over.append(f"{path}:{line} {name} {size} lines")
    for o in over:
        print(o)
    limits = f"files <= {max_file} lines, fns <= {max_fn} lines"
    if over:
        print(f"size: FAILED: {len(over)} over the limits ({limits}; {files} files, {fns} fns checked)")
        return 1
    print(f"size: ok ({limits}; {files} files, {fns} fns checked)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
