"""Finds the places where a lower layer of the crate names a module above it (see check-layers.sh).

usage: layers.py RULE... where each RULE is "dir,dir,...:module,module,..." (dirs relative to the
current directory, which is the repository root; modules are the top-level modules of the crate
those dirs must not name).

Every path that starts with `crate::`, `$crate::`, `super::` or `self::` is resolved to the crate
module it names, grouped imports (`crate::{engine::Conn, socket::Socket}`, nested, over several
lines) expanded, the crate root's `pub use` re-exports followed (`crate::Socket` is
`crate::socket::Socket`), `super` climbing from the file's module (src/engine/session.rs is
crate::engine::session) and from the inline `mod x { .. }` blocks around it. Plain `//` and `/* */`
comments are skipped; doc comments and string literals are read like code, since a lower layer's doc
naming `crate::socket` is the same dependency in prose. A bare word like "socket" is not a path and
never matches.

Prints `file:line: text  [crate::module]` per offending line and a last summary line; exits 1 when
anything offends, 2 on a usage error.
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rustlex  # noqa: E402

_START = re.compile(r"(?<![A-Za-z0-9_])(\$?crate|super|self)\s*::")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\*")
_ALIAS = re.compile(r"as\s+([A-Za-z_][A-Za-z0-9_]*)")
_PUB_USE = re.compile(r"\bpub\s+use\s+")
_MOD_OPEN = re.compile(r"\bmod\s+([A-Za-z_][A-Za-z0-9_]*)\s*\{")


def module_path(path):
    """The crate module path of a source file: src/engine/mod.rs -> [engine]; src/a/b.rs -> [a, b]."""
    parts = path.split(os.sep)
    if parts and parts[0] == "src":
        parts = parts[1:]
    last = parts[-1][:-3] if parts else ""
    parts = parts[:-1]
    if last not in ("mod", "lib", "main"):
        parts.append(last)
    return parts


def inline_mods(skeleton):
    """(open, close, name) of every inline `mod name { .. }` block, from code without comments or
    literals."""
    opens = {m.end() - 1: m.group(1) for m in _MOD_OPEN.finditer(skeleton)}
    stack, found = [], []
    for i, c in enumerate(skeleton):
        if c == "{":
            stack.append(i)
        elif c == "}" and stack:
            start = stack.pop()
            if start in opens:
                found.append((start, i, opens[start]))
    return sorted(found)


def _skip_ws(text, i):
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def parse_tree(text, i, prefix, out):
    """Parses the rest of a path at `i` (after `prefix::`): a segment, or a `{..}` group of them;
    appends (segments, offset of the last segment, name it is imported as) to `out` and returns where the path ends."""
    i = _skip_ws(text, i)
    if i < len(text) and text[i] == "{":
        i += 1
        while True:
            i = _skip_ws(text, i)
            if i >= len(text) or text[i] == "}":
                return i + 1
            i = parse_tree(text, i, prefix, out)
            i = _skip_ws(text, i)
            if i < len(text) and text[i] == ",":
                i += 1
            elif i >= len(text) or text[i] != "}":
                return i  # not a use group after all (or broken code): stop here
    m = _IDENT.match(text, i)
    if not m:
        if prefix:
            out.append((prefix, i, prefix[-1]))
        return i
    segments = prefix + [m.group(0)]
    j = _skip_ws(text, m.end())
    if text.startswith("::", j):
        return parse_tree(text, j + 2, segments, out)
    alias = _ALIAS.match(text, j)
    out.append((segments, m.start(), alias.group(1) if alias else segments[-1]))
    return alias.end() if alias else m.end()


def resolve(segments, module):
    """The absolute crate path `segments` (starting with crate/super/self) names from `module`, or
    None when it climbs above the crate."""
    here = list(module)
    for k, seg in enumerate(segments):
        if seg in ("crate", "$crate") and k == 0:
            here = []
        elif seg == "super":
            if not here:
                return None
            here.pop()
        elif seg != "self":
            return here + segments[k:]
    return here


def root_reexports(lib="src/lib.rs"):
    """Name -> module path of what the crate root re-exports (`pub use socket::Socket;` makes
    `crate::Socket` another way to write `crate::socket::Socket`)."""
    if not os.path.exists(lib):
        return {}
    with open(lib, encoding="utf-8") as f:
        code = rustlex.mask(f.read())
    names = {}
    for m in _PUB_USE.finditer(code):
        found = []
        parse_tree(code, m.end(), [], found)
        for segments, _, name in found:
            if segments[0] not in ("crate", "self", "super") and name not in ("*", "self"):
                names[name] = segments[:-1]
    return names


def check_file(path, forbidden, reexports):
    """Yields (line, text, module) for each line of `path` that names a forbidden module."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    code = rustlex.mask(text, keep_doc=True, keep_strings=True)
    skeleton = rustlex.mask(text)
    mods = inline_mods(skeleton)
    base = module_path(path)
    starts = rustlex.line_starts(text)
    lines = text.split("\n")
    seen = set()
    i = 0
    while True:
        m = _START.search(code, i)
        if not m:
            break
        found = []
        i = parse_tree(code, m.end(), [m.group(1)], found)
        i = max(i, m.end())
        module = base + [name for (o, c, name) in mods if o < m.start() < c]
        for segments, at, _ in found:
            target = resolve(segments, module)
            if target and target[0] in reexports:
                target = reexports[target[0]] + target[1:]
            if target and target[0] in forbidden:
                line = rustlex.line_of(starts, at)
                if (line, target[0]) not in seen:
                    seen.add((line, target[0]))
                    yield line, lines[line - 1].strip(), target[0]


def rust_files(root):
    if os.path.isfile(root):
        yield root
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith(".rs"):
                yield os.path.join(dirpath, name)


def plural(n, word):
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def main(argv):
    if not argv:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    checked, offences = 0, []
    reexports = root_reexports()
    for rule in argv:
        dirs, _, modules = rule.partition(":")
        forbidden = set(modules.split(","))
        for d in dirs.split(","):
            if not os.path.exists(d):
                print(f"layers: {d} does not exist", file=sys.stderr)
                return 2
            for path in rust_files(d):
                checked += 1
                for line, text, module in check_file(path, forbidden, reexports):
                    offences.append(f"{path}:{line}: {text}  [crate::{module}]")
    for o in offences:
        print(o)
    if offences:
        files = len({o.split(":", 1)[0] for o in offences})
        print(f"layers: FAILED: {plural(len(offences), 'line')} in {plural(files, 'file')} "
              f"name a higher layer ({checked} files checked)")
        return 1
    print(f"layers: ok ({checked} files checked)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
