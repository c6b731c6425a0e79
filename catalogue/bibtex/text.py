"""Folding text for matching: accents, case, punctuation."""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .records import Person

# Letters that NFKD does not split into a base letter and a mark.
_NO_DECOMPOSITION = str.maketrans(
    {
        "ß": "ss",
        "ẞ": "ss",
        "ø": "o",
        "Ø": "o",
        "æ": "ae",
        "Æ": "ae",
        "œ": "oe",
        "Œ": "oe",
        "ł": "l",
        "Ł": "l",
        "đ": "d",
        "Đ": "d",
        "ð": "d",
        "Ð": "d",
        "þ": "th",
        "Þ": "th",
        "ı": "i",
        "ħ": "h",
        "Ħ": "h",
    }
)
# The same letters, to look for before paying for a translate of long text.
_UNDECOMPOSED = re.compile("[" + "".join(map(chr, _NO_DECOMPOSITION)) + "]")
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_NOT_WORD = re.compile(r"[\W_]+")
_WHITESPACE = re.compile(r"\s+")


def fold(text: str) -> str:
    """Fold accents and case away, for matching and search.

    >>> fold("Müller-Straße Ørsted Łódź")
    'muller-strasse orsted lodz'
    """
    if text.isascii():
        return text.casefold()
    if _UNDECOMPOSED.search(text):
        text = text.translate(_NO_DECOMPOSITION)
    text = unicodedata.normalize("NFKD", text)
    return _COMBINING.sub("", text).casefold()


def _words(text: str) -> str:
    """Folded text with punctuation turned into single spaces."""
    return _NOT_WORD.sub(" ", fold(text)).strip()


def normalise_title(title: str) -> str:
    """A title reduced for duplicate detection: folded, punctuation gone.

    >>> normalise_title("Percutaneous Cryoanalgesia: Current status -- and Future trends.")
    'percutaneous cryoanalgesia current status and future trends'
    """
    return _words(title)


def normalise_person(person: Person) -> str:
    """A person's matching key: `family|given`, both folded, punctuation removed.

    The family part joins prefix and family ("van der Berg" -> "van der berg").
    The given part keeps what was written, folded: initials stay initials and
    full names stay full names, because "J." may or may not be "Johann".

    >>> from catalogue.bibtex.records import Person
    >>> normalise_person(Person(family="Müller", given="J."))
    'muller|j'
    >>> normalise_person(Person(family="Prologo", given="J.-D."))
    'prologo|j d'
    >>> normalise_person(Person(family="Müller", given="Johann"))
    'muller|johann'
    """
    family = _words(f"{person.prefix} {person.family}")
    return f"{family}|{_words(person.given)}"


def collapse_whitespace(text: str) -> str:
    """Runs of whitespace (newlines included) to one space, ends trimmed.

    >>> collapse_whitespace("  A\\n   title ")
    'A title'
    """
    return _WHITESPACE.sub(" ", text).strip()
