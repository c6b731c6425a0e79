"""The values the BibTeX reader produces: plain, frozen, Django-free.

`read_bibtex` (in `catalogue.bibtex.reader`) turns text into a `ParseResult`:
one `Record` per usable entry and one `Problem` per thing worth telling the
user. The database side (`catalogue.importer`) only ever sees these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]
KeywordKind = Literal["author", "indexed"]


@dataclass(frozen=True)
class Person:
    """One author or editor, decoded to Unicode.

    >>> Person(family="Berg", given="Jan", prefix="van der").display_name
    'Jan van der Berg'
    """

    family: str
    given: str = ""
    prefix: str = ""  # the "von" part: "van der", "de la"
    suffix: str = ""  # the "jr" part: "Jr.", "III"
    is_organisation: bool = False  # written in braces: {World Health Organization}

    @property
    def display_name(self) -> str:
        return " ".join(p for p in (self.given, self.prefix, self.family, self.suffix) if p)


@dataclass(frozen=True)
class Keyword:
    name: str  # display form, decoded and trimmed: "Pain, Postoperative"
    kind: KeywordKind  # "author" from author_keywords, "indexed" from keywords


@dataclass(frozen=True)
class Problem:
    """Something wrong with one entry (or with the file when key is "")."""

    line: int  # 1-based line where the entry (or the trouble) starts; 0 for the whole file
    key: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        who = f" ({self.key})" if self.key else ""
        return f"{where}{who}: {self.message}"


@dataclass(frozen=True)
class Record:
    """One BibTeX entry, macros expanded, crossref resolved, LaTeX decoded."""

    key: str
    entry_type: str  # lower case: "article", "inproceedings", ...
    line: int  # 1-based line of the "@"
    source: str  # the entry exactly as written in the file
    title: str = ""
    abstract: str = ""
    year: int | None = None
    month: int | None = None  # 1-12 when the source names one month
    volume: str = ""
    number: str = ""
    pages: str = ""  # ranges with an en dash: "273–278"
    doi: str = ""  # normalised: lower case, no resolver prefix: "10.1016/j.diii.2020.11.007"
    url: str = ""  # never LaTeX-decoded
    publisher: str = ""
    issn: str = ""  # "2211-5684", check digit valid, or "" (the raw value stays in `fields`)
    language: str = ""
    journal: str = ""  # journal (or journaltitle) name, decoded
    journal_abbreviation: str = ""
    authors: tuple[Person, ...] = ()
    authors_et_al: bool = False  # the list ended in "and others"
    editors: tuple[Person, ...] = ()
    keywords: tuple[Keyword, ...] = ()
    # Every field of the entry, lower-case names, decoded values (url, doi,
    # file and similar left as written), including the ones above.
    fields: dict[str, str] = field(default_factory=dict)
    # Non-fatal trouble with this entry: "undefined macro foo", ...
    warnings: tuple[str, ...] = ()
    # A hash of the entry's type, key and raw field values (macros expanded,
    # crossref resolved, not yet decoded): equal fingerprints, equal records.
    fingerprint: str = ""


@dataclass(frozen=True)
class Known:
    """An entry the caller already holds, unchanged, so it was not decoded.

    `iter_bibtex(..., skip=...)` yields these instead of records for the
    fingerprints its `skip` callback names: re-importing a file mostly
    costs the split, not the decoding.
    """

    key: str
    line: int
    fingerprint: str


@dataclass
class ParseResult:
    records: list[Record] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
