"""DOIs, ISSNs, pages, years and months, as the catalogue stores them."""

from __future__ import annotations

import re

_DOI_PREFIX = re.compile(
    r"^(?:(?:https?://)?(?:dx\.)?doi\.org/|doi:\s*|https?://hdl\.handle\.net/)", re.IGNORECASE
)
_WHITESPACE = re.compile(r"\s+")


def normalise_doi(value: str) -> str:
    """A DOI in lower case without resolver prefix, or "" when it is not a DOI.

    >>> normalise_doi(" https://doi.org/10.1016/J.DIII.2020.11.007 ")
    '10.1016/j.diii.2020.11.007'
    >>> normalise_doi("not a doi")
    ''
    """
    doi = _WHITESPACE.sub("", value).strip("{}")
    doi = doi.replace("\\_", "_")  # LaTeX-escaped underscores in hand-kept files
    doi = _DOI_PREFIX.sub("", doi)
    # DOIs are case-insensitive (the DOI handbook says so); lower case compares.
    doi = doi.lower()
    return doi if doi.startswith("10.") and "/" in doi else ""


_ISSN = re.compile(r"(?<![\dXx])(\d{4})[\s\-‐‑–]?(\d{3}[\dXx])(?![\dXx])")


def _issn_check_digit_ok(digits: str) -> bool:
    total = sum(int(d) * w for d, w in zip(digits[:7], range(8, 1, -1), strict=True))
    check = (11 - total % 11) % 11
    return digits[7].upper() == ("X" if check == 10 else str(check))


def normalise_issn(value: str) -> str:
    """The first valid ISSN in the value as `1234-567X`, or "".

    >>> normalise_issn("22115684")
    '2211-5684'
    >>> normalise_issn("0000-0001; 2211 5684")
    '2211-5684'
    """
    for match in _ISSN.finditer(value):
        digits = match.group(1) + match.group(2).upper()
        if _issn_check_digit_ok(digits):
            return f"{digits[:4]}-{digits[4:]}"
    return ""


_PAGE_RANGE = re.compile(r"^\s*([A-Za-z]*)(\d+)\s*(?:-+|–|—|‐|‑|−)\s*([A-Za-z]*)(\d+)\s*$")


def normalise_pages(value: str) -> str:
    """A page range with an en dash; abbreviated ends completed.

    >>> normalise_pages("273--278")
    '273–278'
    >>> normalise_pages("442--9")
    '442–449'
    >>> normalise_pages("e1234")
    'e1234'
    """
    match = _PAGE_RANGE.match(value)
    if not match:
        return value.strip()
    prefix_start, start, prefix_end, end = match.groups()
    if not prefix_end and len(end) < len(start) and not prefix_start:
        # Medline style "442--9": the end repeats the start's leading digits.
        end = start[: len(start) - len(end)] + end
    return f"{prefix_start}{start}–{prefix_end or ''}{end}"


_YEAR = re.compile(r"(?<!\d)([12]\d{3})(?!\d)")


def parse_year(value: str) -> int | None:
    """The first four-digit year from 1000 to 2999 in the value, else None.

    >>> parse_year("{2021}")
    2021
    >>> parse_year("in press") is None
    True
    """
    match = _YEAR.search(value)
    return int(match.group(1)) if match else None


_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january", "janv", "jänner", "januar", "enero"),
            ("feb", "february", "febr", "fév", "fevr", "février", "februar", "febrero"),
            ("mar", "march", "mars", "märz", "marzo"),
            ("apr", "april", "avr", "avril", "abril"),
            ("may", "mai", "mayo"),
            ("jun", "june", "juin", "juni", "junio"),
            ("jul", "july", "juil", "juillet", "juli", "julio"),
            ("aug", "august", "août", "aout", "agosto"),
            ("sep", "sept", "september", "septembre", "septiembre"),
            ("oct", "october", "octobre", "oktober", "octubre"),
            ("nov", "november", "novembre", "noviembre"),
            ("dec", "december", "déc", "décembre", "dezember", "diciembre"),
        ),
        start=1,
    )
    for name in names
}
_MONTH_TOKEN = re.compile(r"[^\W\d_]+|\d+")


def parse_month(value: str) -> int | None:
    """The (first) month a value names, 1-12, else None.

    >>> parse_month("Sept.")
    9
    >>> parse_month("{Sep-Oct}")
    9
    >>> parse_month("09")
    9
    """
    match = _MONTH_TOKEN.search(value)
    if not match:
        return None
    token = match.group(0)
    if token.isdigit():
        number = int(token)
        return number if 1 <= number <= 12 and len(token) <= 2 else None
    return _MONTHS.get(token.lower())


_CITED_BY = re.compile(r"\bcited\s+by\s*:?\s*(\d{1,9})\b", re.IGNORECASE)


def citation_count(note: str) -> int | None:
    """The citation count Scopus writes into `note`, if there is one.

    >>> citation_count("cited By 12"), citation_count("Cited by: 3; Export Date: 1 May 2024")
    (12, 3)
    >>> citation_count("Preprint") is None
    True
    """
    match = _CITED_BY.search(note)
    return int(match.group(1)) if match else None
