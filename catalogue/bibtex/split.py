"""Split BibTeX text into blocks: bibtexparser's result, at a fraction of its cost.

bibtexparser's splitter steps through the text one mark (`{`, `}`, `"`, `,`,
`=`, newline, `@type{`) at a time in Python, about 130 steps for a Scopus
entry; that alone took as long as the whole bare parse the importer is
measured against. Most entries in real files have one of a few plain shapes:
`@type{key,` then `name = value` pairs whose values are braced (nested a few
levels), quoted, bare words or numbers, or `#` concatenations of those. One
regular expression per field reads such an entry in C, and the result is
built from bibtexparser's own model classes, exactly as its splitter builds
it: the same keys, raw values, types, `raw` text and block line numbers.
Fields get no line number (bibtexparser counts one per field, and nothing
here reads it: counting them took several percent of a re-import).

Anything else (a `(`-delimited block, an escaped quote, a brace nested deeper
than `_MAX_DEPTH`, a line inside the entry that starts with `@`, a missing
comma, any syntax error) hands the rest of the text to bibtexparser itself, so
every hard case, error and recovery is bibtexparser's. `tests/test_bibtex_split.py`
checks that both give the same blocks on the test files, generated files and
many mutilated variants of them.

Comments (`@comment`, text between entries) and `@preamble` are skipped, not
returned: nothing reads them.
"""

from __future__ import annotations

import re

import bibtexparser
from bibtexparser.model import Block, Entry, Field, String

# bibtexparser's block start: `@`, a type, spaces, then `{` or `(` (not consumed).
_BLOCK_START = re.compile(r"@(\w*)[ \t]*(?=[{(])")
# ... which, at the start of a line inside an entry, ends that entry for it.
_LINE_START_BLOCK = re.compile(r"\n\s*@\w*[ \t]*[{(]")

# Text in braces without unescaped braces: a backslash takes the brace after it
# along, as the splitter's `(?<!\\)` does.
_TEXT = r"[^{}\\]*+(?:\\[{}]?[^{}\\]*+)*+"
_MAX_DEPTH = 4


def _braced(depth: int) -> str:
    if depth == 1:
        return r"\{" + _TEXT + r"\}"
    return r"\{" + _TEXT + r"(?:" + _braced(depth - 1) + _TEXT + r")*+\}"


# In quotes, braces and commas do not count; a backslash takes a quote along.
# `{"}` is a quote inside quotes to the splitter: left to it.
_QUOTED = r'"[^"\\]*+(?:\\"?[^"\\]*+)*+(?<!\{)"'
_BARE = r'[^\s{}",=#@\\]++'
_PART = f"(?:{_braced(_MAX_DEPTH)}|{_QUOTED}|{_BARE})"
# `name = value` up to the `,` or `}` after it; group 2 is the value.
_FIELD = re.compile(r'([^{}",=@\\]*+)=\s*+(' + _PART + r"(?:\s*+#\s*+" + _PART + r")*+)\s*+([,}])")
# An entry is `@type{key,` (group 1 is the key), then `_FIELD`s, the last
# ending in `}`, or ending in `,` and followed by `_CLOSE`.
_HEAD_AND_KEY = re.compile(r'@\w*[ \t]*\{([^{}",=@\\]*+),')
_CLOSE = re.compile(r"\s*+\}")
_STRING_HEAD = re.compile(r'\{([^{}",=@\\]*+)=')
_BRACE_MARK = re.compile(r"(?<!\\)[{}]")


class _Unsure(Exception):  # noqa: N818 - control flow: let bibtexparser read from here
    pass


def _refuse_line_start_block(block: str) -> None:
    """A line inside the block that starts like a block ends it for the splitter."""
    if "@" in block[1:] and _LINE_START_BLOCK.search(block):
        raise _Unsure


def split_blocks(text: str) -> list[Block]:
    """The entries and `@string`s of `text`, as `bibtexparser.parse_string(text,
    parse_stack=[])` gives them (duplicates unwrapped), without its comments."""
    return _Splitter(text).split()


class _Splitter:
    def __init__(self, text: str) -> None:
        self.text = text
        self._last_line = (0, 0)  # (index, its line)

    def split(self) -> list[Block]:
        blocks: list[Block] = []
        position = 0
        while (start := _BLOCK_START.search(self.text, position)) is not None:
            try:
                block, position = self._block(start)
            except _Unsure:
                return blocks + self._by_bibtexparser(start.start())
            if block is not None:
                blocks.append(block)
        return blocks

    def _block(self, start: re.Match[str]) -> tuple[Block | None, int]:
        """The block starting at `start` and the index after it."""
        kind = start.group(1).lower()
        opening = start.end()
        if opening >= len(self.text) or self.text[opening] != "{":
            raise _Unsure  # `(`-delimited blocks: rare, with rules of their own
        if kind.startswith(("comment", "preamble")):
            return None, self._closing_brace(start.start(), opening + 1) + 1
        if kind.startswith("string"):
            return self._string(start)
        return self._entry(start, kind)

    def _entry(self, start: re.Match[str], kind: str) -> tuple[Entry, int]:
        text = self.text
        head = _HEAD_AND_KEY.match(text, start.start())
        if head is None:
            raise _Unsure
        # The fields one after the other, each from where the last ended: the
        # text is read once, and anything else in it is not a plain entry.
        fields = []
        position = head.end()
        while (field := _FIELD.match(text, position)) is not None:
            fields.append(Field(key=field[1].strip(), value=field[2]))
            position = field.end()
            if field[3] == "}":
                break
        else:
            close = _CLOSE.match(text, position)
            if close is None:
                raise _Unsure
            position = close.end()
        raw = text[start.start() : position]
        _refuse_line_start_block(raw)
        block = Entry(
            entry_type=kind,
            key=head[1].strip(),
            fields=fields,
            start_line=self._line(start.start()),
            raw=raw,
        )
        return block, position

    def _string(self, start: re.Match[str]) -> tuple[String, int]:
        head = _STRING_HEAD.match(self.text, start.end())
        if head is None:
            raise _Unsure
        closing = self._closing_brace(start.start(), head.end())
        string = String(
            key=head.group(1).strip(),
            value=self.text[head.end() : closing].strip(),
            start_line=self._line(start.start()),
            raw=self.text[start.start() : closing + 1],
        )
        return string, closing + 1

    def _closing_brace(self, block_start: int, scan_from: int) -> int:
        """Index of the `}` that closes the block at `block_start`, scanning at depth 0."""
        depth = 0
        for mark in _BRACE_MARK.finditer(self.text, scan_from):
            if mark.group() == "{":
                depth += 1
            elif depth:
                depth -= 1
            else:
                _refuse_line_start_block(self.text[block_start : mark.start()])
                return mark.start()
        raise _Unsure  # not closed: bibtexparser reports it

    def _line(self, index: int) -> int:
        """bibtexparser's line number (from 0) of the character at `index`.

        Asked for ever later indexes, so the newlines are counted on from the
        last answer. A newline right after a backslash is not a mark to the
        splitter, so it does not count."""
        last, line = self._last_line
        if index < last:
            last, line = 0, 0
        line += self.text.count("\n", last, index) - self.text.count(
            "\\\n", max(last - 1, 0), index
        )
        self._last_line = (index, line)
        return line

    def _by_bibtexparser(self, start: int) -> list[Block]:
        """Let bibtexparser split `text[start:]`, numbering lines as in the whole text."""
        # Blank lines in place of the text before: only an empty comment to it.
        rest = "\n" * self._line(start) + self.text[start:]
        blocks = bibtexparser.parse_string(rest, parse_stack=[]).blocks
        return [getattr(block, "ignore_error_block", None) or block for block in blocks]
