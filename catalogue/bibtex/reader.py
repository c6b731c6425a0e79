"""BibTeX text in, records and problems out, one chunk of whole entries at a time.

bibtexparser only splits the text into blocks here (`parse_stack=[]`, raw
values; `split.split_blocks` does its splitting faster for the common shapes
of entry); everything its middlewares would do is done in this module, because
they lose text (`%`, `&` in URLs), drop entries (repeated fields, Scopus
editor lists) or stay silent (undefined macros). `catalogue.bibtex.stream`
cuts files into chunks and feeds them to `_Reader`.

Invisible characters: NUL, other control characters, bidirectional overrides
and isolates, U+200B and the BOM are removed from every value (with a
warning naming the field): they only hide or reorder text. Zero-width
joiners and non-joiners (U+200C, U+200D), direction marks (U+200E, U+200F)
and the word joiner (U+2060) are kept in titles and abstracts, where Persian,
Arabic, Hebrew or emoji need them, but removed from citation keys, names and
keywords, which become slugs and search terms (again with a warning).
HTML, `javascript:` URLs, `\\input{...}`, `\\write18{...}` and spreadsheet
formulas are kept as plain text: nothing here executes, reads or links
anything; escaping and linking are the web layer's business.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import bibtexparser
from bibtexparser.exceptions import BlockAbortedException
from bibtexparser.model import (
    Block,
    DuplicateBlockKeyBlock,
    DuplicateFieldKeyBlock,
    Entry,
    Field,
    ParsingFailedBlock,
    String,
)

from .identifiers import normalise_doi, normalise_issn, normalise_pages, parse_month, parse_year
from .keywords import split_keywords
from .latex import latex_to_unicode
from .limits import Limits
from .names import parse_names
from .records import Keyword, Known, Person, Problem, Record
from .split import _HEAD_AND_KEY, split_blocks
from .text import collapse_whitespace

# Fields holding lists of names, capped at `Limits.max_authors`.
_NAME_LISTS = ("author", "editor")

# BibTeX's predefined month macros, expanded to names (parse_month reads them).
MONTH_MACROS: dict[str, str] = {
    "jan": "January",
    "feb": "February",
    "mar": "March",
    "apr": "April",
    "may": "May",
    "jun": "June",
    "jul": "July",
    "aug": "August",
    "sep": "September",
    "oct": "October",
    "nov": "November",
    "dec": "December",
}

# Fields whose values are identifiers or addresses: never LaTeX-decoded
# (decoding turns `&` into spaces and ends a URL at `%2f`).
VERBATIM_FIELDS = frozenset(
    [
        "url",
        "urls",
        "doi",
        "eprint",
        "file",
        "pdf",
        "isbn",
        "issn",
        "ismn",
        "isrn",
        "iswc",
        "eid",
        "pmid",
        "pmcid",
        "pubmed_id",
        "pubmed",
        "arxiv",
        "arxivid",
        "archiveprefix",
        "primaryclass",
        "eprintclass",
        "crossref",
        "xref",
        "ids",
        "key",
        "localfile",
        "link",
        "pii",
        "nlmuniqueid",
        "art_number",
    ]
)
_IN_TYPES = frozenset(
    ["inbook", "incollection", "inproceedings", "inreference", "bookinbook", "suppbook"]
)
# biblatex does not pass these from a crossref parent to its child.
_NOT_INHERITED = frozenset(
    [
        "ids",
        "crossref",
        "xref",
        "entryset",
        "entrysubtype",
        "execute",
        "label",
        "options",
        "presort",
        "related",
        "relatedoptions",
        "relatedstring",
        "relatedtype",
        "shorthand",
        "shorthandintro",
        "sortkey",
    ]
)
_JOURNAL_ABBREVIATIONS = ("journal-iso", "journalabbrev", "abbrev_source_title", "shortjournal")

# Characters that must not reach the database: NUL and other C0/C1 controls
# (tab and newlines stay), bidirectional overrides, zero-width space, BOM.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u202a-\u202e\u2066-\u2069\ufeff]")
# In keys, also the invisible joiners and direction marks.
_KEY_JUNK = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")

_BRACE = re.compile(r"(?<!\\)[{}]")  # the splitter ignores `\{` too
_BRACE_OR_QUOTE = re.compile(r'(?<!\\)[{}"]')
_BARE = re.compile(r'[^\s#{}"]+')
_SPACE = re.compile(r"\s*")
_MISSING_COMMA = re.compile(r'(?P<name>[^\s=#{}",]+)\s*=\s*(?P<rest>.*)', re.DOTALL)
_FAILED_KEY = re.compile(r"@\s*\w*\s*[{(]\s*([^,\s{}()=]*)")
# Where a chunk may define a macro, or hold a block in parentheses, whose
# key `split._HEAD_AND_KEY` does not read (see `_Reader._may_hold_parents`).
_STRING_START = re.compile(r"@[ \t]*string[ \t]*[{(]", re.IGNORECASE)
_PARENTHESISED_START = re.compile(r"@\w*[ \t]*\(")
# Recovering an entry cut by `@` at a line start: the start of the next
# ordinary entry (`@type{key,`) bounds the text read again.
_ENTRY_HEAD = re.compile(r"\n[ \t]*@\w+[ \t]*[{(][ \t]*[^\s,{}()=\"]+[ \t]*,")
_MASK = "\ue0ff"
# Marks a value cut short before splitting: `\ue0fe<original length>\ue0fe`.
_CUT_MARK = "\ue0fe"
_CUT = re.compile("\ue0fe(\\d+)\ue0fe")
# A separator of names at any brace depth (`_cap_names` checks the depth).
_AND_SEPARATOR = re.compile(r"\s+and\s+", re.IGNORECASE)
# In a key, the characters whose removal deserves a warning (not spaces).
_KEY_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
# Invisible characters also removed from names and keywords (which become
# slugs and search terms), but kept in titles and abstracts: the joiners
# (U+200C, U+200D) and direction marks matter in Persian, Arabic or Hebrew text.
_NAME_JUNK = re.compile("[\u200b-\u200f\u2060\u202a-\u202e\u2066-\u2069\ufeff]")
_RECOVERY_WINDOW = 200_000
_RECOVERY_TRIES = 10
_DATE = re.compile(r"(?<!\d)(?P<year>[12]\d{3})(?:-(?P<month>\d{1,2}))?")
# Whitespace that needs changing: runs, and any newline, tab or odd space.
_UNTIDY_SPACE = re.compile(r"\s{2,}|[^\S ]")
_UNTIDY_LINE_SPACE = re.compile(r"\s{2,}|[^\S \n]")


def _tidy_spaces(match: re.Match[str]) -> str:
    # A blank line is a paragraph break in BibTeX/LaTeX; other runs are a space.
    return "\n\n" if match.group(0).count("\n") >= 2 else " "


def tidy_text(text: str) -> str:
    """Whitespace runs to one space, blank lines kept as one paragraph break."""
    # Most values need nothing; `in` on str is far cheaper than a regex scan.
    if "\n" in text:
        text = _UNTIDY_SPACE.sub(_tidy_spaces, text)
    elif "  " in text or "\t" in text or "\r" in text or "\xa0" in text:
        text = _UNTIDY_LINE_SPACE.sub(" ", text)
    return text.strip()


def clean_key(key: str) -> str:
    """A citation key without whitespace, control, zero-width or bidi characters.

    >>> clean_key(" Smith2020\\u200b ")
    'Smith2020'
    """
    return _KEY_JUNK.sub("", key)


@dataclass
class _Entry:
    """An entry between splitting and building its `Record`: raw values, macros expanded."""

    key: str
    entry_type: str
    line: int
    source: str
    fields: dict[str, str]
    warnings: list[str] = field(default_factory=list)


class _Evaluator:
    """Evaluates raw BibTeX values: delimiters, `#`, `@string` macros."""

    def __init__(self) -> None:
        self.macros: dict[str, str] = dict(MONTH_MACROS)

    def evaluate(self, raw: str, warnings: list[str], defining: str = "") -> tuple[str, str]:
        """The value of `raw`, and any text left after it (a missing comma)."""
        # Fast path: one braced value and nothing else, the usual case.
        if raw.startswith("{") and raw.endswith("}"):
            inner = raw[1:-1]
            if ("{" not in inner and "}" not in inner) or _closing(raw, 0, _BRACE) == len(raw) - 1:
                return inner, ""
        pieces: list[str] = []
        pos = _SPACE.match(raw).end()  # type: ignore[union-attr]
        length = len(raw)
        while pos < length:
            char = raw[pos]
            if char in '{"':
                end = _closing(raw, pos, _BRACE if char == "{" else _BRACE_OR_QUOTE)
                if end < 0:
                    warnings.append(f"unbalanced {char} in {raw[:40]!r}...")
                    pieces.append(raw[pos + 1 :])
                    return "".join(pieces), ""
                pieces.append(raw[pos + 1 : end])
                pos = end + 1
            else:
                match = _BARE.match(raw, pos)
                if match is None:  # a stray closing brace
                    return "".join(pieces), raw[pos:]
                pos = match.end()
                pieces.append(self._macro(match.group(0), warnings, defining))
            pos = _SPACE.match(raw, pos).end()  # type: ignore[union-attr]
            if pos < length and raw[pos] == "#":
                pos = _SPACE.match(raw, pos + 1).end()  # type: ignore[union-attr]
                continue
            if pos < length:
                return "".join(pieces), raw[pos:]
        return "".join(pieces), ""

    def _macro(self, token: str, warnings: list[str], defining: str) -> str:
        if token.isdigit():
            return token
        name = token.lower()
        if name == defining:
            warnings.append(f"@string {token} refers to itself; kept as the text {token!r}")
            return token
        if name in self.macros:
            return self.macros[name]
        warnings.append(f"undefined macro {token!r}; kept as the text {token!r}")
        return token


def _closing(raw: str, start: int, marks: re.Pattern[str]) -> int:
    """Index of the delimiter closing the one at `start`, or -1."""
    depth = 0
    quoted = raw[start] == '"'
    for match in marks.finditer(raw, start + 1 if quoted else start):
        char = match.group(0)
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0 and not quoted:
                return match.start()
            if depth < 0:
                return -1
        elif depth == 0:  # a `"` outside braces closes a quoted value
            return match.start()
    return -1


def _unwrap_braces(value: str) -> str:
    """`{{10.1000/x}}` -> `10.1000/x`: drop braces enclosing the whole value."""
    value = value.strip()
    while (
        value.startswith("{")
        and value.endswith("}")
        and _closing(value, 0, _BRACE) == len(value) - 1
    ):
        value = value[1:-1].strip()
    return value


def _remove_cut_mark(value: str) -> tuple[str, int]:
    """The value without the mark of a cut, and the original length it records."""
    match = _CUT.search(value)
    if match is None:
        return value, len(value)
    return value[: match.start()] + value[match.end() :], int(match.group(1))


def _is_unexpected_start(block: Block) -> bool:
    error = getattr(block, "error", None)
    return isinstance(error, BlockAbortedException) and error.abort_reason.startswith(
        "Unexpected block start"
    )


def _is_end_of_file(block: Block) -> bool:
    error = getattr(block, "error", None)
    return isinstance(error, BlockAbortedException) and error.abort_reason.startswith(
        "Unexpectedly reached end of file"
    )


def _failure_message(block: ParsingFailedBlock) -> str:
    error = block.error
    reason = error.abort_reason if isinstance(error, BlockAbortedException) else str(error)
    reason = (reason or type(error).__name__).strip()
    if reason.startswith("Unexpected block start"):
        reason += (
            " (probably an unclosed brace or quote, or a line inside a value that starts"
            " with @; the text from that line on is read as a new entry)"
        )
    elif reason.startswith("Expected a `=` after entry key"):
        reason += " (a field without `=`, or a comma inside the citation key)"
    elif reason.startswith("Unexpectedly reached end of file"):
        reason += " (an unclosed brace or quote)"
    return f"This entry could not be read: {reason}"


class _SkipEntry(Exception):  # noqa: N818 - control flow inside the reader
    """An entry over one of the limits: skipped with an error problem."""


class _Wait(Exception):  # noqa: N818 - control flow inside the reader
    """The crossref parent of an entry is further on in the file."""


def _brace_depth_over(value: str, limit: int) -> int:
    """The depth of nested braces in `value` if over `limit`, else 0 (a linear scan)."""
    if value.count("{") <= limit:
        return 0
    depth = deepest = 0
    for match in _BRACE.finditer(value):
        depth += 1 if match.group(0) == "{" else -1
        deepest = max(deepest, depth)
    return deepest if deepest > limit else 0


def _cap_names(value: str, limit: int) -> tuple[str, int]:
    """The first `limit` names of a raw name list, and the number of names if cut (else 0)."""
    if len(value) < limit * 5 or len(_AND_SEPARATOR.findall(value, 0, 200 * limit)) < limit:
        return value, 0
    depth = names = start = 0
    for match in _AND_SEPARATOR.finditer(value):
        depth += _BRACE_COUNT(value, start, match.start())
        start = match.start()
        if depth == 0:
            names += 1
            if names == limit:
                rest = sum(1 for _ in _AND_SEPARATOR.finditer(value, match.end()))
                return value[: match.start()], limit + rest + 1
    return value, 0


def _BRACE_COUNT(value: str, start: int, end: int) -> int:  # noqa: N802
    return value.count("{", start, end) - value.count("}", start, end)


def _key_for_problem(key: str) -> str:
    return key if len(key) <= 80 else f"{key[:80]}…"


class _Reader:
    """Reads a file chunk by chunk: macros, repeated keys and crossref parents carry over.

    `targets` holds the (case-folded) keys that some entry names as its
    crossref parent, and `repeated` the hashes of the case-folded keys used
    more than once; both come from a cheap first pass over the file
    (`catalogue.bibtex.stream`), so only those entries are remembered.

    A child whose parent comes further on waits in `waiting` until the
    parent is read. With `parents_only`, a reader takes in `@string`s and
    the entries that `targets` names, and nothing else: its `parents`, read
    ahead and handed to another reader's `take_parents`, end that reader's
    waiting (see `stream._read`).
    """

    def __init__(
        self,
        *,
        limits: Limits,
        targets: frozenset[str] = frozenset(),
        repeated: frozenset[int] = frozenset(),
        skip: Skip | None = None,
        parents_only: bool = False,
    ) -> None:
        self.limits = limits
        self.skip = skip
        self.evaluator = _Evaluator()
        self.macro_count = 0
        self.targets = targets
        self.repeated = repeated
        self.first_use: dict[str, tuple[str, int]] = {}  # repeated keys only
        self.parents: dict[str, _Entry] = {}
        self.parents_only = parents_only
        self.waiting: dict[str, list[_Entry]] = {}
        self.waiting_count = 0
        self.saw_entry = False
        self.saw_text = False
        self.out: list[Record | Problem] = []
        # Per chunk.
        self.text = ""
        self.offset = 0
        self.cuts: tuple[tuple[int, int], ...] = ()
        self.has_control = False
        self.skip_to_line = -1
        self.after_unexpected_start = False
        self._line_starts: list[int] = []

    def read_chunk(
        self, text: str, offset: int = 0, cuts: tuple[tuple[int, int], ...] = ()
    ) -> list[Record | Problem]:
        """Records and problems of one chunk of whole entries starting on line `offset` + 1.

        `cuts` are (line in `text`, newlines removed there) for values that
        were cut short before the split (see `stream._cut_long_values`).
        """
        if self.parents_only and not self._may_hold_parents(text):
            return []
        self.text, self.offset, self.cuts = text, offset, cuts
        self.has_control = bool(_CONTROL.search(text))
        self.skip_to_line = -1
        self._line_starts = []
        self.saw_text = self.saw_text or not text.isspace() and bool(text)
        self.out = []
        for block in split_blocks(text):
            if (block.start_line or 0) <= self.skip_to_line:
                continue  # inside an entry recovered below: a phantom, not an entry
            self._block(block)
            # A failure of this kind that was not recovered may leave phantoms.
            self.after_unexpected_start = _is_unexpected_start(block) and self.skip_to_line < (
                block.start_line or 0
            )
        self.text = ""
        out, self.out = self._built(self.out), []
        return out

    def _built(self, items: list[Any]) -> list[Record | Problem | Known]:
        """Build the chunk's records, except those the caller says it holds."""
        pending = [item for item in items if isinstance(item, _Settled)]
        known = self.skip({p.fingerprint for p in pending}) if self.skip and pending else set()
        return [
            (
                (
                    Known(item.entry.key, item.entry.line, item.fingerprint)
                    if item.fingerprint in known
                    else self._record(item)
                )
                if isinstance(item, _Settled)
                else item
            )
            for item in items
        ]

    def _record(self, item: _Settled) -> Record | Problem:
        try:
            return _build_record(item.entry, item.fields, item.fingerprint)
        except RecursionError:
            return Problem(
                line=item.entry.line,
                key=item.entry.key,
                message="This entry could not be read: it is nested too deeply.",
            )

    def finish(self) -> list[Record | Problem]:
        """What is still waiting for a crossref parent, and file-level problems."""
        self.out = []
        for entries in self.waiting.values():
            for entry in entries:
                self._emit(entry, self._resolve(entry, [], final=True))
        self.waiting, self.waiting_count = {}, 0
        if self.saw_text and not self.saw_entry:
            self.out.append(
                Problem(
                    line=0,
                    key="",
                    message="No BibTeX entries were found in this file"
                    " (entries start with @article{, @book{, ...).",
                )
            )
        out, self.out = self._built(self.out), []
        return out

    def _line(self, block: Block) -> int:
        line = block.start_line or 0
        for cut_line, newlines in self.cuts:
            if line > cut_line:
                line += newlines
        return self.offset + line + 1

    def _problem(self, block: Block, key: str, message: str, severity: str = "error") -> None:
        problem = Problem(line=self._line(block), key=key, message=message, severity=severity)  # type: ignore[arg-type]
        self.out.append(problem)

    def _block(self, block: Block) -> None:
        if isinstance(block, DuplicateBlockKeyBlock | DuplicateFieldKeyBlock):
            block = block.ignore_error_block  # type: ignore[assignment]
        if self.parents_only:
            if isinstance(block, ParsingFailedBlock) and _is_unexpected_start(block):
                block = self._recover(block)  # type: ignore[assignment]
            if isinstance(block, String):
                self._string(block)
            elif isinstance(block, Entry) and self._is_unread_parent(clean_key(block.key)):
                self._entry(block)
            return
        if isinstance(block, ParsingFailedBlock):
            self.saw_entry = True
            recovered = self._recover(block) if _is_unexpected_start(block) else None
            if recovered is not None:
                self._entry(recovered)
                return
            match = _FAILED_KEY.match(block.raw or "")
            key = clean_key(match.group(1)) if match else ""
            self._problem(block, _key_for_problem(key), _failure_message(block))
        elif isinstance(block, String):
            self._string(block)
        elif isinstance(block, Entry):
            self.saw_entry = True
            self._entry(block)
        # Comments (Scopus headers, JabRef metadata) and @preamble carry no records.

    def _recover(self, block: ParsingFailedBlock) -> Entry | None:
        """Re-read an entry cut short by a line starting with `@` inside a value.

        BibTeX itself reads such an `@` as text; the splitter takes it for the
        start of a new entry. Mask that `@` and split the entry's text again;
        give up after a few tries (the `@` may really start an entry after an
        unclosed brace) and let the caller report the problem.
        """
        raw = block.raw or ""
        if _MASK in self.text or not raw.startswith("@"):
            return None
        if not self._line_starts:
            self._line_starts = [0, *(m.end() for m in re.finditer("\n", self.text))]
        line = block.start_line or 0
        start = self.text.find(raw, self._line_starts[min(line, len(self._line_starts) - 1)])
        if start < 0:
            return None
        limit = min(len(self.text), start + _RECOVERY_WINDOW)
        head = _ENTRY_HEAD.search(self.text, start + len(raw), limit)
        end = head.start() if head else limit
        window = self.text[start:end]
        position = len(raw)
        for _ in range(_RECOVERY_TRIES):
            position = window.find("@", position)
            first = None
            if position >= 0:
                window = f"{window[:position]}{_MASK}{window[position + 1 :]}"
                blocks = bibtexparser.parse_string(window, parse_stack=[]).blocks
                first = blocks[0] if blocks else None
                if isinstance(first, DuplicateFieldKeyBlock):
                    first = first.ignore_error_block
                if isinstance(first, Entry):
                    source = (first.raw or "").replace(_MASK, "@")
                    self.skip_to_line = line + source.count("\n")
                    return Entry(
                        entry_type=first.entry_type,
                        key=first.key,
                        fields=[
                            Field(
                                key=f.key,
                                value=f.value.replace(_MASK, "@"),
                                start_line=f.start_line,
                            )
                            for f in first.fields
                        ],
                        start_line=line,
                        raw=source,
                    )
                if isinstance(first, ParsingFailedBlock) and _is_unexpected_start(first):
                    position = len(first.raw or "")
                    continue
            if end >= limit or not (first is None or _is_end_of_file(first)):
                return None
            # The value goes on past a line that looks like a whole entry head
            # (`@misc{key,` quoted in an abstract): read on to the next one.
            head = _ENTRY_HEAD.search(self.text, end + 1, limit)
            position = len(window)
            new_end = head.start() if head else limit
            window += self.text[end:new_end]
            end = new_end
        return None

    def _string(self, block: String) -> None:
        warnings: list[str] = []
        name = block.key.strip()
        macro = name.lower()
        if macro not in self.evaluator.macros or macro in MONTH_MACROS:
            if self.macro_count >= self.limits.max_macros:
                if self.macro_count == self.limits.max_macros:
                    self.macro_count += 1  # warn once
                    self._problem(
                        block,
                        _key_for_problem(name),
                        f"more than {self.limits.max_macros:,} @string definitions;"
                        " this one and all further new ones are ignored",
                        severity="warning",
                    )
                return
            self.macro_count += 1
        value, rest = self.evaluator.evaluate(block.value, warnings, defining=macro)
        if rest:
            warnings.append(f"text after the value was ignored: {rest[:60]!r}")
        if len(value) > self.limits.max_value_chars:
            warnings.append(
                f"the value is {len(value):,} characters long;"
                f" only the first {self.limits.max_value_chars:,} were kept"
            )
            value = value[: self.limits.max_value_chars]
        self.evaluator.macros[macro] = self._clean(value, "@string", warnings)
        for warning in warnings:
            self._problem(block, _key_for_problem(name), warning, severity="warning")

    def _clean(self, value: str, name: str, warnings: list[str]) -> str:
        if self.has_control and _CONTROL.search(value):
            warnings.append(f"removed control or invisible characters from {name}")
            value = _CONTROL.sub("", value)
        return value

    def _field(
        self, raw_name: str, raw_value: str, fields: dict[str, str], warnings: list[str]
    ) -> None:
        name = raw_name.strip().lower()
        depth = _brace_depth_over(raw_value, self.limits.max_brace_depth)
        if depth:
            raise _SkipEntry(
                f"braces in the field {name} are nested {depth:,} deep (the limit is"
                f" {self.limits.max_brace_depth}); the entry was skipped"
            )
        value, rest = self.evaluator.evaluate(raw_value, warnings)
        missing_comma = _MISSING_COMMA.fullmatch(rest) if rest else None
        if rest and not missing_comma:
            warnings.append(f"unexpected text after the value of {name}: {rest[:60]!r}")
            value = f"{value} {rest}"
        if name in _NAME_LISTS:
            value, total = _cap_names(value, self.limits.max_authors)
            if total:
                # "and others" marks the list as cut (Record.authors_et_al).
                value += " and others"
                warnings.append(
                    f"{name}: {total:,} names; only the first {self.limits.max_authors:,} were kept"
                )
        if self.cuts and _CUT_MARK in value:
            value, original = _remove_cut_mark(value)
            warnings.append(
                f"the field {name} is {original:,} characters long;"
                f" only the first {self.limits.max_value_chars:,} were kept"
            )
        elif len(value) > self.limits.max_value_chars:
            warnings.append(
                f"the field {name} is {len(value):,} characters long;"
                f" only the first {self.limits.max_value_chars:,} were kept"
            )
            value = value[: self.limits.max_value_chars]
        if not name:
            warnings.append(f"a value without a field name was ignored: {value[:60]!r}")
        elif name in fields:
            warnings.append(f"the field {name} is repeated; the first value is kept")
        elif self.has_control:
            fields[name] = self._clean(value, name, warnings)
        else:
            fields[name] = value
        if missing_comma:
            # `title = {A} year = 2020`: the splitter gives one value; read both.
            warnings.append(f"missing comma before the field {missing_comma['name']!r}")
            self._field(missing_comma["name"], missing_comma["rest"], fields, warnings)

    def _entry(self, block: Entry) -> None:
        key = clean_key(block.key)
        if not key:
            self._problem(block, "", "This entry has no citation key; it was skipped.")
            return
        if len(key) > self.limits.max_key_chars:
            self._problem(
                block,
                _key_for_problem(key),
                f"The citation key is {len(key):,} characters long (the limit is"
                f" {self.limits.max_key_chars}); the entry was skipped.",
            )
            return
        size = len(block.raw or "")
        if self.cuts and _CUT_MARK in (block.raw or ""):
            # Values cut before splitting count with their original length.
            size += sum(int(n) - self.limits.max_value_chars for n in _CUT.findall(block.raw))
        if size > self.limits.max_entry_chars:
            self._problem(
                block,
                key,
                f"This entry is {size:,} characters long (the limit is"
                f" {self.limits.max_entry_chars:,}); it was skipped.",
            )
            return
        if not block.entry_type.strip():
            self._problem(block, key, "This entry has no type (`@{...`); it was skipped.")
            return
        line = self._line(block)
        warnings: list[str] = []
        if self.repeated:
            self._check_repeated_key(key, line, warnings)
        if _KEY_INVISIBLE.search(block.key):
            warnings.append("removed invisible or control characters from the citation key")
        if self.after_unexpected_start and not _ENTRY_HEAD.match("\n" + (block.raw or "")):
            warnings.append(
                "this entry starts inside an entry above that could not be read;"
                " it may be a line of that entry's text, not a real entry"
            )
        fields: dict[str, str] = {}
        # Most values are one pair of braces around plain text, and read
        # here; `_field` takes the rest. Its checks cannot fire on these.
        plain = not (self.cuts or self.has_control)
        longest = self.limits.max_value_chars
        try:
            for raw_field in block.fields:
                raw = raw_field.value
                if plain and raw[:1] == "{" and raw[-1:] == "}" and len(raw) <= longest:
                    value = raw[1:-1]
                    name = raw_field.key.strip().lower()
                    if (
                        "{" not in value
                        and "}" not in value
                        and name
                        and name not in fields
                        and name not in _NAME_LISTS
                    ):
                        fields[name] = value
                        continue
                self._field(raw_field.key, raw, fields, warnings)
        except _SkipEntry as error:
            self._problem(block, key, f"This entry could not be read: {error}.")
            return
        entry = _Entry(
            key=key,
            entry_type=block.entry_type.strip().lower(),
            line=line,
            source=block.raw or "",
            fields=fields,
            warnings=warnings,
        )
        if self._is_unread_parent(key):
            self.parents[key.casefold()] = entry
            if self.parents_only:
                return
            self._settle(entry)
            self._settle_waiting(key.casefold())
        else:
            self._settle(entry)

    def _settle_waiting(self, folded: str) -> None:
        """Settle the children that waited for the parent under `folded`."""
        children = self.waiting.pop(folded, [])
        self.waiting_count -= len(children)
        for child in children:
            self._settle(child)

    def take_parents(self, parents: dict[str, _Entry]) -> list[Record | Problem | Known]:
        """Every parent in the file, read ahead (by a `parents_only` reader).

        Returns the waiting children, built: with their parents, or with a
        warning for a parent that is nowhere in the file. From now on no
        child waits.
        """
        for folded, parent in parents.items():
            self.parents.setdefault(folded, parent)
        self.targets = frozenset(self.parents)
        for folded in list(self.waiting):
            self._settle_waiting(folded)
        out, self.out = self._built(self.out), []
        return out

    def _may_hold_parents(self, text: str) -> bool:
        """Whether a chunk defines a macro or may hold a parent not read yet.

        The others need not be split.
        """
        if _STRING_START.search(text) or _PARENTHESISED_START.search(text):
            return True
        heads = _HEAD_AND_KEY.finditer(text)
        return any(self._is_unread_parent(clean_key(head.group(1))) for head in heads)

    def _is_unread_parent(self, key: str) -> bool:
        """Whether an entry under `key` is a crossref parent (the first under that key)."""
        folded = key.casefold()
        return folded in self.targets and folded not in self.parents

    def _check_repeated_key(self, key: str, line: int, warnings: list[str]) -> None:
        folded = key.casefold()
        if hash(folded) not in self.repeated:
            return
        if folded not in self.first_use and len(self.first_use) >= self.limits.max_repeated_keys:
            warnings.append(
                f"the key {key!r} is also used by another entry (too many keys are used"
                " twice in this file to say which); both entries are kept"
            )
            return
        first = self.first_use.setdefault(folded, (key, line))
        if first[1] != line or first[0] != key:
            other, other_line = first
            used = "" if other == key else f" (as {other!r})"
            warnings.append(
                f"the key {key!r} is also used{used} by the entry on line {other_line};"
                " both entries are kept"
            )

    def _settle(self, entry: _Entry) -> None:
        """Build the entry's record now, or let it wait for its crossref parent."""
        try:
            fields = self._resolve(entry, [], final=False)
        except _Wait as wait:
            self.waiting.setdefault(str(wait), []).append(entry)
            self.waiting_count += 1
            return
        self._emit(entry, fields)

    def _emit(self, entry: _Entry, fields: dict[str, str]) -> None:
        # Built at the end of the chunk, so that `skip` is asked once.
        self.out.append(_Settled(entry, fields, _fingerprint(entry, fields)))

    def _resolve(self, entry: _Entry, chain: list[_Entry], *, final: bool) -> dict[str, str]:
        """The entry's fields with what its crossref parent (chain) adds.

        Only the entry being built (`chain[0]`) is warned: the others are
        built (and warned) on their own.
        """
        fields = entry.fields
        parent_key = _unwrap_braces(fields.get("crossref", ""))
        if not parent_key:
            return fields
        folded = parent_key.casefold()
        parent = self.parents.get(folded)
        root = chain[0] if chain else entry
        if parent is None:
            if folded in self.targets and not final:
                raise _Wait(folded)
            if not chain:
                entry.warnings.append(f"crossref {parent_key!r}: no entry with that key")
            return fields
        if parent is entry or parent in chain:
            path = " -> ".join(e.key for e in [*chain, entry, parent])
            root.warnings.append(f"crossref cycle {path}; not followed")
            return fields
        return _inherit(entry, self._resolve(parent, [*chain, entry], final=final))


def _inherit(child: _Entry, parent_fields: dict[str, str]) -> dict[str, str]:
    fields = dict(child.fields)
    for name, value in parent_fields.items():
        if name in _NOT_INHERITED:
            continue
        if child.entry_type in _IN_TYPES and name in ("title", "subtitle", "titleaddon"):
            # The parent's title is the book the child is in (biblatex does this).
            fields.setdefault(f"book{name}", value)
            continue
        fields.setdefault(name, value)
    return fields


def _decode_fields(fields: dict[str, str]) -> dict[str, str]:
    decoded: dict[str, str] = {}
    for name, value in fields.items():
        if name in VERBATIM_FIELDS or "url" in name:
            decoded[name] = _unwrap_braces(value)
        else:
            decoded[name] = tidy_text(latex_to_unicode(value))
    return decoded


def _first(fields: dict[str, str], *names: str) -> str:
    for name in names:
        if fields.get(name):
            return fields[name]
    return ""


def _names(raw: dict[str, str], name: str, warnings: list[str]) -> tuple[tuple[Person, ...], bool]:
    value = raw.get(name, "")
    if not value:
        return (), False
    if _NAME_JUNK.search(value):
        value = _NAME_JUNK.sub("", value)
        warnings.append(f"{name}: removed invisible characters")
    people, et_al, name_warnings = parse_names(value)
    warnings.extend(f"{name}: {w}" for w in name_warnings)
    return people, et_al


def _keywords(fields: dict[str, str], warnings: list[str]) -> tuple[Keyword, ...]:
    keywords: tuple[Keyword, ...] = ()
    for name, kind in (("author_keywords", "author"), ("keywords", "indexed")):
        value = fields.get(name)
        if not value:
            continue
        if _NAME_JUNK.search(value):
            value = _NAME_JUNK.sub("", value)
            warnings.append(f"{name}: removed invisible characters")
        keywords += split_keywords(value, kind)  # type: ignore[arg-type]
    return keywords


@dataclass
class _Settled:
    """An entry with its final raw fields, waiting to be built (or skipped)."""

    entry: _Entry
    fields: dict[str, str]
    fingerprint: str


# Given the fingerprints of a chunk's entries, the ones not to build.
Skip = Callable[[set[str]], set[str]]


def _fingerprint(entry: _Entry, fields: dict[str, str]) -> str:
    encoded = json.dumps([entry.entry_type, entry.key, sorted(fields.items())]).encode()
    return hashlib.blake2b(encoded, digest_size=16).hexdigest()


def _build_record(entry: _Entry, raw: dict[str, str], fingerprint: str = "") -> Record:
    warnings = entry.warnings
    fields = _decode_fields(raw)

    authors, et_al = _names(raw, "author", warnings)
    editors, _ = _names(raw, "editor", warnings)
    keywords = _keywords(fields, warnings)

    doi = normalise_doi(fields.get("doi", ""))
    if fields.get("doi") and not doi:
        warnings.append(f"doi {fields['doi']!r} is not a DOI; left out")
    issn = normalise_issn(fields.get("issn", ""))
    if fields.get("issn") and not issn:
        warnings.append(f"issn {fields['issn']!r} has no valid ISSN; left out")

    year = parse_year(fields.get("year", ""))
    month = parse_month(fields.get("month", ""))
    date = _DATE.search(fields.get("date", ""))
    if date:  # biblatex writes `date = {2021-05}` instead of year and month
        year = year or int(date["year"])
        if month is None and date["month"] and 1 <= int(date["month"]) <= 12:
            month = int(date["month"])

    return Record(
        key=entry.key,
        entry_type=entry.entry_type,
        line=entry.line,
        source=entry.source,
        title=collapse_whitespace(fields.get("title", "")),
        abstract=fields.get("abstract", ""),
        year=year,
        month=month,
        volume=fields.get("volume", ""),
        number=fields.get("number", "") or fields.get("issue", ""),
        pages=normalise_pages(fields.get("pages", "")),
        doi=doi,
        url=fields.get("url", ""),
        publisher=fields.get("publisher", ""),
        issn=issn,
        language=fields.get("language", ""),
        journal=_first(fields, "journal", "journaltitle"),
        journal_abbreviation=_first(fields, *_JOURNAL_ABBREVIATIONS),
        authors=authors,
        authors_et_al=et_al,
        editors=editors,
        keywords=keywords,
        fields=fields,
        warnings=tuple(warnings),
        fingerprint=fingerprint,
    )
