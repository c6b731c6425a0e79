"""BibTeX text in, `ParseResult` out.

bibtexparser only splits the text into blocks here (`parse_stack=[]`, raw
values); everything its middlewares would do is done in this module, because
they lose text (`%`, `&` in URLs), drop entries (repeated fields, Scopus
editor lists) or stay silent (undefined macros).
"""

from __future__ import annotations

import gc
import re
from dataclasses import dataclass, field

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
from .names import parse_names
from .records import Keyword, ParseResult, Problem, Record
from .text import collapse_whitespace

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
# Recovering an entry cut by `@` at a line start: the start of the next
# ordinary entry (`@type{key,`) bounds the text read again.
_ENTRY_HEAD = re.compile(r"\n[ \t]*@\w+[ \t]*[{(][ \t]*[^\s,{}()=\"]+[ \t]*,")
_MASK = "\ue0ff"
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


def _is_unexpected_start(block: Block) -> bool:
    error = getattr(block, "error", None)
    return isinstance(error, BlockAbortedException) and error.abort_reason.startswith(
        "Unexpected block start"
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


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.has_control = bool(_CONTROL.search(text))
        self.evaluator = _Evaluator()
        self.result = ParseResult()
        self.entries: list[_Entry] = []
        self.skip_to_line = -1
        self.after_unexpected_start = False
        self._line_starts: list[int] = []

    def run(self) -> ParseResult:
        library = bibtexparser.parse_string(self.text, parse_stack=[])
        for block in library.blocks:
            if (block.start_line or 0) <= self.skip_to_line:
                continue  # inside an entry recovered below: a phantom, not an entry
            self._block(block)
            # A failure of this kind that was not recovered may leave phantoms.
            self.after_unexpected_start = _is_unexpected_start(block) and self.skip_to_line < (
                block.start_line or 0
            )
        resolved = _resolve_crossrefs(self.entries)
        for entry, fields in zip(self.entries, resolved, strict=True):
            self.result.records.append(_build_record(entry, fields))
        return self.result

    def _problem(self, block: Block, key: str, message: str, severity: str = "error") -> None:
        line = (block.start_line or 0) + 1
        self.result.problems.append(Problem(line=line, key=key, message=message, severity=severity))  # type: ignore[arg-type]

    def _block(self, block: Block) -> None:
        notes: list[str] = []
        if isinstance(block, DuplicateBlockKeyBlock):
            previous = block.previous_block
            block = block.ignore_error_block  # type: ignore[assignment]
            if isinstance(block, Entry):
                notes.append(
                    f"the key {block.key!r} is also used by the entry on line"
                    f" {(previous.start_line or 0) + 1}; both entries are kept"
                )
        elif isinstance(block, DuplicateFieldKeyBlock):
            block = block.ignore_error_block  # type: ignore[assignment]
        if isinstance(block, ParsingFailedBlock):
            recovered = self._recover(block) if _is_unexpected_start(block) else None
            if recovered is not None:
                self._entry(recovered, notes)
                return
            match = _FAILED_KEY.match(block.raw or "")
            key = clean_key(match.group(1)) if match else ""
            self._problem(block, key, _failure_message(block))
        elif isinstance(block, String):
            self._string(block)
        elif isinstance(block, Entry):
            self._entry(block, notes)
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
        head = _ENTRY_HEAD.search(self.text, start + len(raw), start + _RECOVERY_WINDOW)
        window = self.text[start : head.start() if head else start + _RECOVERY_WINDOW]
        position = len(raw)
        for _ in range(_RECOVERY_TRIES):
            position = window.find("@", position)
            if position < 0:
                return None
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
                        Field(key=f.key, value=f.value.replace(_MASK, "@"), start_line=f.start_line)
                        for f in first.fields
                    ],
                    start_line=line,
                    raw=source,
                )
            if not (isinstance(first, ParsingFailedBlock) and _is_unexpected_start(first)):
                return None
            position = len(first.raw or "")
        return None

    def _string(self, block: String) -> None:
        warnings: list[str] = []
        name = block.key.strip()
        value, rest = self.evaluator.evaluate(block.value, warnings, defining=name.lower())
        if rest:
            warnings.append(f"text after the value was ignored: {rest[:60]!r}")
        self.evaluator.macros[name.lower()] = self._clean(value, "@string", warnings)
        for warning in warnings:
            self._problem(block, name, warning, severity="warning")

    def _clean(self, value: str, name: str, warnings: list[str]) -> str:
        if self.has_control and _CONTROL.search(value):
            warnings.append(f"removed control or invisible characters from {name}")
            value = _CONTROL.sub("", value)
        return value

    def _field(
        self, raw_name: str, raw_value: str, fields: dict[str, str], warnings: list[str]
    ) -> None:
        name = raw_name.strip().lower()
        value, rest = self.evaluator.evaluate(raw_value, warnings)
        missing_comma = _MISSING_COMMA.fullmatch(rest) if rest else None
        if rest and not missing_comma:
            warnings.append(f"unexpected text after the value of {name}: {rest[:60]!r}")
            value = f"{value} {rest}"
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

    def _entry(self, block: Entry, warnings: list[str]) -> None:
        key = clean_key(block.key)
        if not key:
            self._problem(block, "", "This entry has no citation key; it was skipped.")
            return
        if not block.entry_type.strip():
            self._problem(block, key, "This entry has no type (`@{...`); it was skipped.")
            return
        if self.after_unexpected_start and not _ENTRY_HEAD.match("\n" + (block.raw or "")):
            warnings.append(
                "this entry starts inside an entry above that could not be read;"
                " it may be a line of that entry's text, not a real entry"
            )
        fields: dict[str, str] = {}
        for raw_field in block.fields:
            self._field(raw_field.key, raw_field.value, fields, warnings)
        self.entries.append(
            _Entry(
                key=key,
                entry_type=block.entry_type.strip().lower(),
                line=(block.start_line or 0) + 1,
                source=block.raw or "",
                fields=fields,
                warnings=warnings,
            )
        )


def _resolve_crossrefs(entries: list[_Entry]) -> list[dict[str, str]]:
    """Each entry's fields with what its crossref parent (chain) adds."""
    by_key: dict[str, _Entry] = {}
    for entry in entries:
        by_key.setdefault(entry.key, entry)
        by_key.setdefault(entry.key.casefold(), entry)  # BibTeX matches keys loosely
    done: dict[int, dict[str, str]] = {}

    def resolve(entry: _Entry, chain: list[_Entry]) -> dict[str, str]:
        if id(entry) in done:
            return done[id(entry)]
        fields = entry.fields
        parent_key = _unwrap_braces(fields.get("crossref", ""))
        if parent_key:
            parent = by_key.get(parent_key) or by_key.get(parent_key.casefold())
            if parent is None:
                entry.warnings.append(f"crossref {parent_key!r}: no entry with that key")
            elif parent is entry or parent in chain:
                cycle = [*chain[chain.index(parent) :], entry] if parent in chain else [entry]
                path = " -> ".join(e.key for e in [*cycle, parent])
                for member in cycle:
                    member.warnings.append(f"crossref cycle {path}; not followed")
            else:
                fields = _inherit(entry, resolve(parent, [*chain, entry]))
        done[id(entry)] = fields
        return fields

    return [resolve(entry, []) for entry in entries]


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


def _build_record(entry: _Entry, raw: dict[str, str]) -> Record:
    warnings = entry.warnings
    fields = _decode_fields(raw)

    authors, et_al, name_warnings = parse_names(raw.get("author", ""))
    warnings.extend(f"author: {w}" for w in name_warnings)
    editors, _, name_warnings = parse_names(raw.get("editor", ""))
    warnings.extend(f"editor: {w}" for w in name_warnings)

    keywords: tuple[Keyword, ...] = ()
    if fields.get("author_keywords"):
        keywords += split_keywords(fields["author_keywords"], "author")
    if fields.get("keywords"):
        keywords += split_keywords(fields["keywords"], "indexed")

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
    )


def read_bibtex(text: str) -> ParseResult:
    """Read BibTeX text into records and problems; a bad entry never stops the rest.

    >>> result = read_bibtex('@article{k1, title = "A {B}ig " # jan, year = 2020}')
    >>> result.records[0].title, result.records[0].year, result.problems
    ('A Big January', 2020, [])
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    # The splitter makes many small objects and no cycles; the cyclic garbage
    # collector would only rescan them again and again (about 10% of the time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _Reader(text).run()
    finally:
        if collecting:
            gc.enable()
