"""Reading BibTeX into plain records. Django-free: never import Django here.

>>> from catalogue.bibtex import read_bibtex
>>> read_bibtex("@book{k, title={T}}").records[0].title
'T'
"""

from .encoding import UnreadableFile, decode_bytes
from .keywords import normalise_keyword, split_keywords
from .latex import latex_to_unicode
from .limits import DEFAULT_LIMITS, Limits
from .names import parse_names
from .records import Keyword, Known, ParseResult, Person, Problem, Record
from .stream import count_entries, iter_bibtex, read_bibtex
from .text import fold, normalise_person, normalise_title

__all__ = [
    "DEFAULT_LIMITS",
    "Limits",
    "Keyword",
    "Known",
    "ParseResult",
    "Person",
    "Problem",
    "Record",
    "UnreadableFile",
    "count_entries",
    "decode_bytes",
    "fold",
    "iter_bibtex",
    "latex_to_unicode",
    "normalise_keyword",
    "normalise_person",
    "normalise_title",
    "parse_names",
    "read_bibtex",
    "split_keywords",
]
