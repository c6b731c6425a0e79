"""How much of a hostile file the reader is willing to take in.

Every limit turns a file that would hang the reader or fill the memory into
a warning or an error about the one entry concerned; the rest of the file is
read as usual.

>>> Limits(max_authors=50).max_authors
50
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    # A longer field value is cut to this many characters, with a warning that
    # gives its original length (a 50 MB abstract becomes 1 MB).
    max_value_chars: int = 1_000_000
    # A longer entry is skipped with an error; also the most text the reader
    # holds at once while looking for the end of one entry.
    max_entry_chars: int = 60_000_000
    # Further authors (or editors) are dropped with a warning, and the record
    # is marked `authors_et_al`.
    max_authors: int = 1_000
    # A longer citation key is an error; the entry is skipped.
    max_key_chars: int = 255
    # Deeper nested braces in a value are an error; the entry is skipped.
    max_brace_depth: int = 50
    # Further `@string` definitions are ignored, with one warning.
    max_macros: int = 10_000
    # The first use of at most this many keys used more than once is
    # remembered (27 MB for 100,000), to name it when the key comes again;
    # the uses of further such keys are warned without naming the other.
    max_repeated_keys: int = 100_000


DEFAULT_LIMITS = Limits()
