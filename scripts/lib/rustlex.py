r"""A small Rust lexer for the source checks in scripts/: it finds comments, string literals and char
literals so that the checks can look at code only. It is not a Rust parser; it knows what this
repository's sources use: line and (nested) block comments, doc comments, strings with escapes, raw
strings (r"..", r#".."#, br#".."#), byte and C strings, char literals ('{', '\'', '\u{..}') and
lifetimes ('a, 'static), which are not chars.

`mask(text, keep_doc)` returns `text` with the chosen parts replaced by spaces (newlines kept), so
offsets and line numbers stay those of the original.
"""

import re

_IDENT = re.compile(r"[A-Za-z0-9_]")


def _is_ident_char(c):
    return bool(_IDENT.match(c))


def spans(text):
    """Yields (kind, start, end) for every comment and literal: kind is 'comment', 'doc' (a ///, //!,
    /** or /*! comment) or 'string' (string or char literal; the quotes and prefix included)."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            body = text[i + 2 : i + 4]
            doc = (body[:1] == "/" and body[1:2] != "/") or body[:1] == "!"
            yield ("doc" if doc else "comment", i, end)
            i = end
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            body = text[i + 2 : i + 4]
            doc = (body[:1] == "*" and body[1:2] not in ("*", "/")) or body[:1] == "!"
            yield ("doc" if doc else "comment", i, j)
            i = j
        elif c == '"' or (c in "rbc" and (i == 0 or not _is_ident_char(text[i - 1]))):
            end = _literal_end(text, i)
            if end is None:  # an identifier starting with r, b or c
                i += 1
                while i < n and _is_ident_char(text[i]):
                    i += 1
                continue
            yield ("string", i, end)
            i = end
        elif c == "'":
            end = _char_end(text, i)
            if end is None:  # a lifetime or a loop label
                i += 1
                continue
            yield ("string", i, end)
            i = end
        else:
            i += 1


def _literal_end(text, i):
    """End of the string literal starting at `i` (with its b/c/r prefix), or None when none starts."""
    m = re.compile(r'(?:b|c)?(r)(#*)"|(?:b|c)?"').match(text, i)
    if not m:
        return None
    j = m.end()
    if m.group(1):  # raw: no escapes, ends at " followed by as many #
        close = '"' + m.group(2)
        end = text.find(close, j)
        return len(text) if end < 0 else end + len(close)
    n = len(text)
    while j < n:
        if text[j] == "\\":
            j += 2
        elif text[j] == '"':
            return j + 1
        else:
            j += 1
    return n


def _char_end(text, i):
    """End of the char literal starting at the quote at `i` (a b prefix is handled as an identifier
    before it), or None for a lifetime or label."""
    n = len(text)
    if i + 1 < n and text[i + 1] == "\\":
        # '\n', '\'', '\\', '\x7f', '\u{10FFFF}': the closing quote is at most 10 past the escape
        close = text.find("'", i + 3, i + 13)
        return None if close < 0 else close + 1
    if i + 2 < n and text[i + 2] == "'" and text[i + 1] != "\n":
        return i + 3
    return None


def mask(text, keep_doc=False, keep_strings=False):
    """`text` with comments and literals blanked. keep_doc keeps doc comments, keep_strings literals;
    plain comments are always blanked."""
    out = list(text)
    for kind, start, end in spans(text):
        if (kind == "doc" and keep_doc) or (kind == "string" and keep_strings):
            continue
        for k in range(start, end):
            if out[k] != "\n":
                out[k] = " "
    return "".join(out)


def line_starts(text):
    """Offsets where each line starts, for `line_of`."""
    starts = [0]
    starts.extend(m.end() for m in re.finditer("\n", text))
    return starts


def line_of(starts, offset):
    """1-based line number of `offset`."""
    lo, hi = 0, len(starts)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if starts[mid] <= offset:
            lo = mid
        else:
            hi = mid
    return lo + 1
