"""The fast splitter gives exactly bibtexparser's blocks, and is fast where it should be."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import bibtexparser
import pytest
from bibtexparser.model import Block, Entry, ParsingFailedBlock, String

from catalogue.bibtex import split
from catalogue.bibtex.split import split_blocks
from catalogue.demo import generate_bibtex

DATA = Path(__file__).parent / "data"

# Entries of every shape the fast path reads ...
PLAIN = r"""Exported from somewhere, 3 entries.
@string{jbio = "Journal of " # {Biology}}
@STRING{ acm = {ACM {Press}} }
@preamble{"\newcommand{\noop}[1]{}"}
@comment{jabref-meta: databaseType:bibtex;}
@Article{ Smith2020 ,
  author = {Smith, J. and M{\"u}ller, K{\'a}roly and {van der Berg}, Anna},
  title = "A {DNA} study of caf{\'e} \"quoted\" things, with commas",
  journal = jbio,
  year = 2020, month = jan,
  pages = {1--10},
  note = "Part one" # { and } # acm,
  abstract = {Line one
  line two, with {braces {nested {three deep}}} and 50\% off \{ escaped \}.},
  url = {https://example.org/a?b=1&c=%2F},
}
@inproceedings{Conf2019,
  title={Short},booktitle = {Proc.},
  crossref = {proc2019}}
@proceedings{proc2019, title = {The Proceedings}, year = {2019}}
@article{continued2013, title = {Line \\
next}, note = {after a backslash at a line end}}
@article{empty2011,}
"""
# ... and shapes it leaves to bibtexparser.
HARD = r"""@misc(paren2018, title = {In parentheses}, year = 2018)
@book{NoComma2017
  title = {No comma after the key}}
@article{missing2016,
  title = {A} year = 2016,
}
@article{at2015,
  abstract = {Ends here
@misc{not_an_entry, this is text}
  still the abstract},
}
@article{quoted_brace2014, title = "{"}quoted brace", year = 2014}
@article{deep2012, title = {a {b {c {d {e {f}}}}}}}
@article{last2010, title = {Unterminated
"""


def blocks_of(blocks: list[Block]) -> list[tuple[Any, ...]]:
    """What the reader uses of each block, in order (comments are never used)."""
    out: list[tuple[Any, ...]] = []
    for block in blocks:
        block = getattr(block, "ignore_error_block", None) or block
        if isinstance(block, Entry):
            # Field line numbers are not read: the fast path leaves them out.
            fields = tuple((f.key, f.value) for f in block.fields)
            out.append(("entry", block.entry_type, block.key, block.start_line, block.raw, fields))
        elif isinstance(block, String):
            out.append(("string", block.key, block.value, block.start_line, block.raw))
        elif isinstance(block, ParsingFailedBlock):
            reason = getattr(block.error, "abort_reason", str(block.error))
            out.append(("failed", block.start_line, block.raw, reason))
    return out


def assert_same_blocks(text: str) -> None:
    expected = blocks_of(bibtexparser.parse_string(text, parse_stack=[]).blocks)
    assert blocks_of(split_blocks(text)) == expected


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*.bib")))
def test_split_matches_bibtexparser_on_the_test_files(name: str) -> None:
    assert_same_blocks((DATA / name).read_text(encoding="utf-8"))


def test_split_matches_bibtexparser_on_generated_entries() -> None:
    assert_same_blocks("".join(generate_bibtex(300, seed=7)))


def test_split_matches_bibtexparser_on_varied_and_broken_entries() -> None:
    assert_same_blocks(PLAIN + HARD)
    # Each entry alone too, so that every shape is met at the start of a text.
    for part in (PLAIN + HARD).split("\n@"):
        assert_same_blocks("@" + part)


def test_split_matches_bibtexparser_on_thousands_of_mutilated_texts() -> None:
    """Insert, delete or double a syntax character anywhere: still the same blocks."""
    rng = random.Random(20261128)
    marks = '{}",=@#\\\n() \t%'
    base = PLAIN + "".join(generate_bibtex(3, seed=2))
    for _ in range(2000):
        text = base
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(text))
            action = rng.random()
            if action < 0.5:
                text = text[:at] + rng.choice(marks) + text[at:]
            elif action < 0.8:
                text = text[:at] + text[at + 1 :]
            else:
                text = text[:at] + text[at] + text[at:]
        assert_same_blocks(text)


def test_split_reads_ordinary_entries_without_bibtexparser(monkeypatch: pytest.MonkeyPatch) -> None:
    """The point of the module: generated and Scopus-style entries never reach the slow path."""
    calls: list[str] = []
    monkeypatch.setattr(
        split.bibtexparser, "parse_string", lambda text, **kwargs: calls.append(text)
    )
    generated = "".join(generate_bibtex(200, seed=3))
    text = PLAIN + generated + (DATA / "seed.bib").read_text(encoding="utf-8")
    blocks = split_blocks(text)
    assert calls == []
    assert sum(isinstance(block, Entry) for block in blocks) == 5 + 200 + 1


def test_split_hands_the_rest_to_bibtexparser_after_a_broken_entry() -> None:
    text = (
        "@article{good1, title = {One}}\n"
        "@article{broken, title = {Never closed,\n"
        "@article{good2, title = {Two}}\n"
    )
    blocks = blocks_of(split_blocks(text))
    assert [block[0] for block in blocks] == ["entry", "failed", "entry"]
    assert [block[3 if block[0] == "entry" else 1] for block in blocks] == [0, 1, 2]
