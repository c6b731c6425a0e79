"""BibTeX text into records and problems (catalogue.bibtex.reader)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from catalogue.bibtex import Keyword, Person, Record, read_bibtex

DATA = Path(__file__).parent / "data"


def only_record(text: str) -> Record:
    result = read_bibtex(text)
    assert result.problems == []
    assert len(result.records) == 1
    return result.records[0]


# The seed: the owner's own Scopus export.


@pytest.fixture(scope="module")
def seed() -> Record:
    return only_record((DATA / "seed.bib").read_text(encoding="utf-8"))


def test_seed_is_read_exactly(seed: Record) -> None:
    assert seed.key == "2984889"
    assert seed.entry_type == "article"
    assert seed.line == 1
    assert seed.title == (
        "Percutaneous cryoanalgesia for pain palliation: Current status and future trends"
    )
    assert seed.journal == "Diagnostic and Interventional Imaging"
    assert (seed.year, seed.volume, seed.number, seed.pages) == (2021, "102", "5", "273–278")
    assert seed.publisher == "Elsevier Masson s.r.l."
    assert seed.issn == "2211-5684"
    assert seed.doi == "10.1016/j.diii.2020.11.007"
    assert seed.abstract.startswith("Cryoanalgesia, otherwise termed cryoneurolysis")
    assert seed.abstract.endswith("© 2020 Société française de radiologie")
    assert seed.warnings == ()


def test_seed_authors_in_order(seed: Record) -> None:
    assert seed.authors == (
        Person(family="Filippiadis", given="D."),
        Person(family="Efthymiou", given="E."),
        Person(family="Tsochatzis", given="A."),
        Person(family="Kelekis", given="A."),
        Person(family="Prologo", given="J.D."),
    )
    assert seed.authors_et_al is False


@pytest.mark.parametrize(
    "name",
    [
        "nitrous oxide",
        "abdominal tumor",
        "randomized controlled trial (topic)",
        "Analgesia",
        "Cryotherapy",
        "Randomized Controlled Trials as Topic",
    ],
)
def test_seed_keywords_include(seed: Record, name: str) -> None:
    assert Keyword(name=name, kind="indexed") in seed.keywords


def test_seed_source_is_the_entry_as_written(seed: Record) -> None:
    assert seed.source == (DATA / "seed.bib").read_text(encoding="utf-8").strip()


# Files as exported.


def test_scopus_header_is_not_a_problem() -> None:
    text = "Scopus\nEXPORT DATE: 12 May 2020\n\n@ARTICLE{Harvie2020,\nauthor={Harvie, A.J.},\n}\n"
    result = read_bibtex(text)
    assert result.problems == []
    assert [(r.key, r.line) for r in result.records] == [("Harvie2020", 4)]


def test_field_names_are_lower_cased() -> None:
    record = only_record("@Article{k, Title = {T}, AUTHOR = {Doe, Jane}, Year = {{2016}}}")
    assert (record.title, record.authors, record.year) == ("T", (Person("Doe", "Jane"),), 2016)
    assert set(record.fields) == {"title", "author", "year"}


def test_every_field_is_kept_decoded() -> None:
    record = only_record(r"@article{k, note = {Caf{\'e}}, art_number = {5448}}")
    assert record.fields == {"note": "Café", "art_number": "5448"}


def test_journaltitle_and_abbreviation_are_read() -> None:
    record = only_record("@article{k, journaltitle = {J. Foo}, shortjournal = {JF}}")
    assert (record.journal, record.journal_abbreviation) == ("J. Foo", "JF")


def test_scopus_abbreviated_source_title_is_the_abbreviation() -> None:
    record = only_record(
        "@article{k, journal={Scientific Reports}, abbrev_source_title={Sci. Rep.}}"
    )
    assert record.journal_abbreviation == "Sci. Rep."


def test_titles_lose_braces_and_line_breaks() -> None:
    record = only_record("@article{k, title = {{CORDIC} {II:}\n   {A} New\tAlgorithm}}")
    assert record.title == "CORDIC II: A New Algorithm"


def test_percent_in_an_abstract_is_literal() -> None:
    record = only_record("@article{k, abstract = {It contributed 28.8% to the total. Then more.}}")
    assert record.abstract == "It contributed 28.8% to the total. Then more."


def test_url_and_doi_are_never_decoded() -> None:
    url = (
        "https://www.scopus.com/inward/record.uri?eid=2-s2.0-85082496624"
        "&doi=10.1038%2fs41598-020-61715-7&partnerID=40&md5=419565dd8abc"
    )
    record = only_record(f"@article{{k, url={{{url}}}, doi = {{{{10.1038/s41598_X}}}}}}")
    assert record.url == url
    assert record.fields["url"] == url
    assert record.doi == "10.1038/s41598_x"


def test_month_macro_and_biblatex_date() -> None:
    assert only_record("@article{k, month = sep}").month == 9
    record = only_record("@article{k, date = {2019-03-02}}")
    assert (record.year, record.month) == (2019, 3)


def test_pubmed_month_range_and_abbreviated_pages() -> None:
    record = only_record("@article{k, month = {Sep-Oct}, pages = {442--9}}")
    assert (record.month, record.pages) == (9, "442–449")


# Macros and concatenation.


def test_string_macros_and_concatenation() -> None:
    text = """
@string{jgr = "J. Geophys. Res."}
@STRING{ Pre = {Pre} }
@article{k, journal = jgr # { Letters}, note = pre # "print " # 2020 # ", " # dec}
"""
    record = only_record(text)
    assert record.journal == "J. Geophys. Res. Letters"
    assert record.fields["note"] == "Preprint 2020, December"


def test_macro_used_before_its_definition_is_undefined() -> None:
    text = "@article{k, journal = jgr}\n@string{jgr = {J. Geophys. Res.}}"
    record = read_bibtex(text).records[0]
    assert record.journal == "jgr"
    assert record.warnings == ("undefined macro 'jgr'; kept as the text 'jgr'",)


def test_undefined_macro_is_kept_as_its_name_with_a_warning() -> None:
    record = read_bibtex("@article{k, publisher = nobody # { Press}}").records[0]
    assert record.publisher == "nobody Press"
    assert record.warnings == ("undefined macro 'nobody'; kept as the text 'nobody'",)


def test_self_recursive_macro_is_a_warning_not_a_hang() -> None:
    result = read_bibtex('@string{a = a # "x"}\n@article{k, note = a}')
    assert result.records[0].fields["note"] == "ax"
    assert [(p.line, p.key, p.severity) for p in result.problems] == [(1, "a", "warning")]
    assert "refers to itself" in result.problems[0].message


def test_mutually_recursive_macros_are_a_warning_not_a_hang() -> None:
    result = read_bibtex("@string{a = b}\n@string{b = a}\n@article{k, note = b}")
    assert result.records[0].fields["note"] == "b"
    assert [(p.line, p.key) for p in result.problems] == [(1, "a")]
    assert "undefined macro 'b'" in result.problems[0].message


# Crossref.

PARENT = "@proceedings{conf, title = {Proc. of Conf}, year = 2020, publisher = {ACM}}"
CHILD = "@inproceedings{paper, title = {A Paper}, crossref = {conf}}"


@pytest.mark.parametrize("text", [f"{PARENT}\n{CHILD}", f"{CHILD}\n{PARENT}"])
def test_crossref_child_inherits_missing_fields(text: str) -> None:
    result = read_bibtex(text)
    child = next(r for r in result.records if r.key == "paper")
    assert (child.title, child.year, child.publisher) == ("A Paper", 2020, "ACM")
    assert child.fields["booktitle"] == "Proc. of Conf"
    assert child.warnings == ()


def test_crossref_to_a_missing_parent_is_a_warning() -> None:
    record = read_bibtex("@inproceedings{paper, title = {A}, crossref = {nowhere}}").records[0]
    assert record.warnings == ("crossref 'nowhere': no entry with that key",)


def test_crossref_cycle_is_a_warning_not_a_hang() -> None:
    text = "@book{a, crossref = {b}, title = {A}}\n@book{b, crossref = {a}, year = 2001}"
    records = read_bibtex(text).records
    assert all(any("crossref cycle" in w for w in r.warnings) for r in records)
    assert records[0].year == 2001  # a still inherits from b; only the loop is cut


# Entries that are broken, repeated or odd.

BROKEN_BETWEEN = """@article{good1,
  title = {First}
}

@article{broken,
  title = {Never closed,
  year = 2020,

@article{good2,
  title = {Second}
}
"""


def test_broken_entry_between_good_ones_is_a_problem_and_the_rest_is_read() -> None:
    result = read_bibtex(BROKEN_BETWEEN)
    assert [r.key for r in result.records] == ["good1", "good2"]
    assert [(p.line, p.key, p.severity) for p in result.problems] == [(5, "broken", "error")]
    assert result.problems[0].message.startswith("This entry could not be read: ")


def test_repeated_field_keeps_the_first_value_with_a_warning() -> None:
    record = read_bibtex(
        "@article{k, funding_details = {A}, title = {T}, funding_details = {B}}"
    ).records[0]
    assert record.fields["funding_details"] == "A"
    assert record.warnings == ("the field funding_details is repeated; the first value is kept",)


def test_repeated_key_keeps_both_entries_with_a_warning() -> None:
    result = read_bibtex("@book{20231, title = {One}}\n@book{20231, title = {Two}}")
    assert [r.title for r in result.records] == ["One", "Two"]
    assert result.records[1].warnings == (
        "the key '20231' is also used by the entry on line 1; both entries are kept",
    )


def test_missing_comma_between_fields_is_recovered_with_a_warning() -> None:
    record = read_bibtex("@article{k,\n title = {T}\n year = {2020},\n}").records[0]
    assert (record.title, record.year) == ("T", 2020)
    assert record.warnings == ("missing comma before the field 'year'",)


@pytest.mark.parametrize("text", ["@article{, title = {T}}", "@article{\u200b , title = {T}}"])
def test_entry_without_key_is_a_problem(text: str) -> None:
    result = read_bibtex(text)
    assert result.records == []
    assert [(p.line, p.key) for p in result.problems] == [(1, "")]


def test_key_loses_invisible_characters() -> None:
    record = only_record("@article{\u202eSmith\u200b2020\ufeff, title = {T}}")
    assert record.key == "Smith2020"


def test_control_characters_are_removed_with_a_warning() -> None:
    record = read_bibtex("@article{k, title = {A\x00B\x07C\u202eD}}").records[0]
    assert record.title == "ABCD"
    assert record.warnings == ("removed control or invisible characters from title",)


def test_line_starting_with_at_inside_an_abstract_keeps_the_entry() -> None:
    # The splitter takes `@twitter{...` at a line start for a new entry; the
    # reader masks that `@`, splits the entry again and reads it whole (BibTeX
    # itself does the same). No phantom entry "handle" comes back.
    text = (
        "@article{real,\n  abstract = {Follow us at\n@twitter{handle} daily},\n  year = 2020\n}\n"
    )
    result = read_bibtex(text)
    assert result.problems == []
    assert [(r.key, r.year) for r in result.records] == [("real", 2020)]
    assert result.records[0].abstract == "Follow us at @twitterhandle daily"
    assert result.records[0].source == text.strip()


def test_unrecoverable_at_line_still_reports_the_real_entry() -> None:
    # An unclosed brace followed by a real entry: the first is a Problem with
    # its key, the second is read.
    text = "@article{real,\n  abstract = {never closed\n\n@article{next, title = {N}}\n"
    result = read_bibtex(text)
    assert [(p.line, p.key) for p in result.problems] == [(1, "real")]
    assert [r.key for r in result.records] == ["next"]


def test_commented_out_entry_is_read_like_bibtex_does() -> None:
    # `%` is no comment outside values either: BibTeX imports this entry too.
    assert [r.key for r in read_bibtex("% @article{old, title = {T}}").records] == ["old"]


def test_empty_text_gives_nothing() -> None:
    result = read_bibtex("")
    assert (result.records, result.problems) == ([], [])


def test_bibtex_package_never_imports_django() -> None:
    code = "import sys, catalogue.bibtex; print('django' in sys.modules)"
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
