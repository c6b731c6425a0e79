"""Hostile and broken input: no hang, no crash, a clear message, the rest still read."""

from __future__ import annotations

import codecs
import io
import time

import pytest

from catalogue.bibtex import (
    Limits,
    Person,
    Problem,
    Record,
    UnreadableFile,
    iter_bibtex,
    read_bibtex,
)

GOOD = "@article{good, title = {Still here}, year = 2020}\n"


def read_bytes(data: bytes, limits: Limits | None = None) -> tuple[list[Record], list[Problem]]:
    items = list(iter_bibtex(io.BytesIO(data), **({"limits": limits} if limits else {})))
    records = [item for item in items if isinstance(item, Record)]
    problems = [item for item in items if isinstance(item, Problem)]
    return records, problems


def keys(records: list[Record]) -> list[str]:
    return [record.key for record in records]


# Not BibTeX at all.


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\n", "a PDF document"),
        (b"PK\x03\x04\x14\x00\x06\x00\x08\x00" + bytes(200), "a ZIP archive"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(100), "a PNG image"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(100), "a JPEG image"),
        (b"GIF89a\x01\x00\x01\x00", "a GIF image"),
        (b"ab\x00\x00cd\x00\x00" * 1000, "binary file"),
    ],
)
def test_binary_file_is_refused_before_anything_is_read(data: bytes, what: str) -> None:
    items = iter_bibtex(io.BytesIO(data))
    with pytest.raises(UnreadableFile, match=what):
        next(items)


@pytest.mark.parametrize(
    "data", [b"", b" \n\t\r\n ", codecs.BOM_UTF16_LE + " \n".encode("utf-16-le")]
)
def test_empty_file_is_refused(data: bytes) -> None:
    with pytest.raises(UnreadableFile, match="empty"):
        next(iter_bibtex(io.BytesIO(data)))


def test_prose_gives_a_file_problem_and_no_records() -> None:
    text = b"Dear editor,\nplease find our references attached. Best, Jane\n"
    records, problems = read_bytes(text)
    assert records == []
    assert [(p.line, p.key, p.severity) for p in problems] == [(0, "", "error")]
    assert "No BibTeX entries were found" in problems[0].message


# Encodings.

TEXT = "@article{k, title = {Café “quoted” – Société}, author = {Müller, Jürgen}}\n"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom_is_read(codec: str) -> None:
    bom = codecs.BOM_UTF16_LE if codec.endswith("le") else codecs.BOM_UTF16_BE
    records, problems = read_bytes(bom + (TEXT + GOOD).encode(codec))
    assert problems == []
    assert records[0].title == "Café “quoted” – Société"
    assert [r.line for r in records] == [1, 2]


def test_latin1_file_is_read_with_a_file_warning() -> None:
    data = ("@article{k, title = {Société}, author = {Müller, J.}}\n" + GOOD).encode("latin-1")
    records, problems = read_bytes(data)
    assert (records[0].title, records[0].authors) == ("Société", (Person("Müller", "J."),))
    assert [(p.line, p.key, p.severity) for p in problems] == [(0, "", "warning")]
    assert "not valid UTF-8 (the first bad byte is on line 1)" in problems[0].message
    assert "Windows-1252" in problems[0].message


def test_windows_1252_smart_quotes_are_read() -> None:
    records, _ = read_bytes(b"@article{k, title = {\x93Quoted\x94 \x96 it\x92s}}")
    assert records[0].title == "“Quoted” – it’s"


def test_invalid_utf8_late_in_a_utf8_file_reads_the_whole_file_as_cp1252() -> None:
    # The bad byte comes after more than a read block of good UTF-8: the
    # survey sees it before anything is yielded, so no entry is read twice.
    pad = "x" * 500
    filler = "".join(
        f"@misc{{m{i}, title = {{Ünïcode {i}}}, note = {{{pad}}}}}\n" for i in range(2_000)
    )
    data = filler.encode("utf-8") + b"@misc{bad, title = {Caf\xe9}}\n"
    assert len(data) > 1 << 20
    records, problems = read_bytes(data)
    assert len(records) == 2_001
    assert records[-1].title == "Café"
    assert records[0].title == "ÃœnÃ¯code 0"  # read as cp1252 throughout, as promised
    assert [(p.line, p.severity) for p in problems] == [(0, "warning")]
    assert "line 2001" in problems[0].message


def test_nul_and_control_characters_are_removed_with_a_warning_on_the_entry() -> None:
    records, problems = read_bytes(b"@article{nul, title = {A\x00B\x01C\x1bD}}\n" + GOOD.encode())
    assert problems == []
    assert (records[0].key, records[0].title) == ("nul", "ABCD")
    assert records[0].warnings == ("removed control or invisible characters from title",)
    assert keys(records) == ["nul", "good"]


# Structure.


def test_extra_closing_brace_is_reported_and_the_rest_read() -> None:
    result = read_bibtex("@article{a, title = {T}}}\n" + GOOD)
    assert keys(result.records) == ["a", "good"]


def test_unclosed_brace_names_the_entry_and_its_line() -> None:
    result = read_bibtex(GOOD + "\n@article{broken,\n title = {never closed,\n\n" + GOOD)
    assert keys(result.records) == ["good", "good"]
    assert [(p.line, p.key, p.severity) for p in result.problems] == [(3, "broken", "error")]


def test_unterminated_last_entry_is_a_problem() -> None:
    result = read_bibtex(GOOD + "@article{last, title = {T}, year = 2020\n")
    assert keys(result.records) == ["good"]
    assert [(p.line, p.key) for p in result.problems] == [(2, "last")]
    assert "end of file" in result.problems[0].message


def test_unterminated_quote_is_a_problem_and_the_next_entry_is_read() -> None:
    result = read_bibtex('@article{q, title = "never closed, year = 2020}\n\n' + GOOD)
    assert keys(result.records) == ["good"]
    assert [(p.line, p.key) for p in result.problems] == [(1, "q")]


def test_missing_comma_reads_both_fields_with_a_warning() -> None:
    record = read_bibtex("@article{k,\n title = {T}\n year = {2020}\n journal = {J}}").records[0]
    assert (record.title, record.year, record.journal) == ("T", 2020, "J")
    assert record.warnings == (
        "missing comma before the field 'year'",
        "missing comma before the field 'journal'",
    )


def test_line_starting_with_at_in_an_abstract_makes_no_phantom_entry() -> None:
    text = "@article{real,\n abstract = {See\n@misc{phantom, title = nothing} here},\n}\n" + GOOD
    result = read_bibtex(text)
    assert "phantom" not in keys(result.records)
    assert "good" in keys(result.records)


def test_parenthesis_delimited_entry_is_read() -> None:
    record = read_bibtex("@article(k, title = {T (with parens)}, year = 2020)").records[0]
    assert (record.key, record.title, record.year) == ("k", "T (with parens)", 2020)


def test_duplicate_field_keeps_the_first_with_a_warning() -> None:
    record = read_bibtex("@article{k, title = {First}, TITLE = {Second}}").records[0]
    assert record.title == "First"
    assert record.warnings == ("the field title is repeated; the first value is kept",)


def test_upper_case_field_names_are_read() -> None:
    record = read_bibtex("@ARTICLE{k, TITLE = {T}, Author = {Doe, Jane}, YEAR = 1999}").records[0]
    assert (record.title, record.authors, record.year) == ("T", (Person("Doe", "Jane"),), 1999)


# Size: each case handled by a limit, in bounded time.


def timed(text: str, limits: Limits | None = None) -> tuple[list[Record], list[Problem], float]:
    start = time.perf_counter()
    records, problems = read_bytes(text.encode("utf-8"), limits)
    return records, problems, time.perf_counter() - start


def test_a_50_mb_field_is_cut_to_the_limit_with_a_warning() -> None:
    words = "lorem ipsum, dolor = sit amet\nconsectetur {adipiscing} elit "
    big = (words * (50_000_000 // len(words) + 1))[:50_000_000]
    text = "@article{big,\n title = {T},\n abstract = {" + big + "},\n year = 2020\n}\n" + GOOD
    records, problems, seconds = timed(text)
    assert problems == []
    assert keys(records) == ["big", "good"]
    assert (records[0].year, records[1].line) == (2020, big.count("\n") + 6)
    assert len(records[0].abstract) <= 1_000_000
    assert records[0].abstract.startswith("lorem ipsum, dolor = sit amet consectetur adipiscing")
    assert records[0].warnings == (
        "the field abstract is 50,000,000 characters long; only the first 1,000,000 were kept",
    )
    assert seconds < 30


def test_an_entry_over_the_entry_limit_is_skipped_with_an_error() -> None:
    limits = Limits(max_entry_chars=3_000_000, max_value_chars=100)
    text = GOOD + "@article{huge, abstract = {" + "x" * 5_000_000 + "}}\n" + GOOD
    records, problems, _ = timed(text, limits)
    assert [(r.key, r.line) for r in records] == [("good", 1), ("good", 3)]
    assert [(p.line, p.key, p.severity) for p in problems] == [(2, "huge", "error")]
    assert "longer than 3,000,000 characters" in problems[0].message


def test_100000_authors_keep_the_first_thousand() -> None:
    authors = " and ".join(f"Family{i}, Given" for i in range(100_000))
    records, _, seconds = timed("@article{many, title = {T}, author = {" + authors + "}}")
    record = records[0]
    assert len(record.authors) == 1_000
    assert record.authors[-1] == Person("Family999", "Given")
    assert record.authors_et_al is True
    assert record.warnings == ("author: 100,000 names; only the first 1,000 were kept",)
    assert seconds < 10


def test_10000_nested_braces_are_an_error_for_that_entry() -> None:
    text = "@article{deep,\n title = {" + "{" * 10_000 + "x" + "}" * 10_000 + "}}\n" + GOOD
    records, problems, seconds = timed(text)
    assert keys(records) == ["good"]
    assert [(p.line, p.key, p.severity) for p in problems] == [(1, "deep", "error")]
    assert "nested 10,001 deep (the limit is 50)" in problems[0].message
    assert seconds < 10


def test_a_1_mb_citation_key_is_an_error() -> None:
    records, problems, seconds = timed("@article{" + "k" * 1_000_000 + ", title = {T}}\n" + GOOD)
    assert keys(records) == ["good"]
    assert [(p.line, p.key[:3], len(p.key)) for p in problems] == [(1, "kkk", 81)]
    assert "1,000,000 characters long (the limit is 255)" in problems[0].message
    assert seconds < 10


def test_100000_string_macros_stop_at_the_limit_with_one_warning() -> None:
    macros = "".join(f"@string{{m{i} = {{v{i}}}}}\n" for i in range(100_000))
    text = macros + "@article{k, title = m5 # m9999 # m10000}\n"
    records, problems, seconds = timed(text)
    assert records[0].title == "v5v9999m10000"
    assert records[0].warnings == ("undefined macro 'm10000'; kept as the text 'm10000'",)
    assert [(p.line, p.key, p.severity) for p in problems] == [(10_001, "m10000", "warning")]
    assert "more than 10,000 @string definitions" in problems[0].message
    assert seconds < 20


# Macros and references.


def test_undefined_macro_is_kept_as_text_with_a_warning() -> None:
    record = read_bibtex("@article{k, journal = nosuch}").records[0]
    assert record.journal == "nosuch"
    assert record.warnings == ("undefined macro 'nosuch'; kept as the text 'nosuch'",)


def test_self_and_mutually_recursive_macros_do_not_hang() -> None:
    text = '@string{a = a # "x"}\n@string{b = c}\n@string{c = b}\n@article{k, note = a # b # c}'
    result = read_bibtex(text)
    assert result.records[0].fields["note"] == "axcc"  # b is "c": c was undefined then
    assert [(p.line, p.key) for p in result.problems] == [(1, "a"), (2, "b")]


def test_crossref_cycle_is_cut_with_a_warning_on_each_entry() -> None:
    text = "@book{a, crossref = {b}, title = {A}}\n@book{b, crossref = {c}}\n@book{c, crossref={a}}"
    records = read_bibtex(text).records
    assert keys(records) == ["a", "b", "c"]
    assert records[0].warnings == ("crossref cycle a -> b -> c -> a; not followed",)
    assert records[2].warnings == ("crossref cycle c -> a -> b -> c; not followed",)


def test_crossref_to_a_missing_parent_is_a_warning() -> None:
    record = read_bibtex("@inproceedings{p, title = {A}, crossref = {gone}}").records[0]
    assert record.warnings == ("crossref 'gone': no entry with that key",)


# Repeated keys and missing titles.


def test_same_key_in_another_case_is_a_warning_naming_the_other_line() -> None:
    result = read_bibtex("@book{Smith2020, title = {One}}\n\n@book{smith2020, title = {Two}}")
    assert [r.title for r in result.records] == ["One", "Two"]
    assert result.records[0].warnings == ()
    assert result.records[1].warnings == (
        "the key 'smith2020' is also used (as 'Smith2020') by the entry on line 1;"
        " both entries are kept",
    )


def test_entry_without_title_is_returned() -> None:
    record = read_bibtex("@misc{untitled, year = 2001}").records[0]
    assert (record.key, record.title, record.year) == ("untitled", "", 2001)


# Dangerous content stays inert text.


def test_html_and_script_stay_as_text() -> None:
    text = (
        "@article{k, title = {<script>alert(1)</script> Title},"
        ' abstract = {<img src=x onerror="alert(1)"> & more}}'
    )
    record = read_bibtex(text).records[0]
    assert record.title == "<script>alert(1)</script> Title"
    assert record.abstract == '<img src=x onerror="alert(1)"> & more'


def test_javascript_url_is_kept_as_text() -> None:
    record = read_bibtex("@misc{k, url = {javascript:alert(document.cookie)}}").records[0]
    assert record.url == "javascript:alert(document.cookie)"


def test_tex_input_and_write18_stay_visible_and_do_nothing() -> None:
    text = r"@misc{k, title = {\input{/etc/passwd}}, note = {\write18{rm -rf /}}}"
    record = read_bibtex(text).records[0]
    assert record.title == r"\input{/etc/passwd}"
    assert record.fields["note"] == r"\write18{rm -rf /}"


def test_spreadsheet_formula_is_kept_as_text() -> None:
    record = read_bibtex("@misc{k, title = {=cmd|' /C calc'!A0}, note = {@SUM(1+1)}}").records[0]
    assert record.title == "=cmd|' /C calc'!A0"
    assert record.fields["note"] == "@SUM(1+1)"


def test_invisible_characters_leave_the_key_with_a_warning() -> None:
    record = read_bibtex("@article{Sm\u200dith\u202e20\u206020\ufeff, title = {T}}").records[0]
    assert record.key == "Smith2020"
    assert record.warnings == ("removed invisible or control characters from the citation key",)


def test_invisible_characters_leave_names_and_keywords_with_a_warning() -> None:
    text = "@article{k, author = {Sm\u200bith\u2060, J\u200cohn}, keywords = {open\u200d data; x}}"
    record = read_bibtex(text).records[0]
    assert record.authors == (Person("Smith", "John"),)
    assert [k.name for k in record.keywords] == ["open data", "x"]
    assert "author: removed invisible characters" in record.warnings
    assert "keywords: removed invisible characters" in record.warnings


def test_joiners_stay_in_titles_but_bidi_overrides_go() -> None:
    # ZWNJ/ZWJ spell words in Persian and emoji; an override only hides text.
    record = read_bibtex("@article{k, title = {\u0645\u06cc\u200c\u0634\u0648\u062f \u202eX}}")
    assert record.records[0].title == "\u0645\u06cc\u200c\u0634\u0648\u062f X"
    assert record.records[0].warnings == ("removed control or invisible characters from title",)


def test_keys_used_twice_beyond_the_limit_are_warned_without_naming_the_other() -> None:
    text = "".join(f"@book{{{key}, title = {{T}}}}\n" for key in ["a", "b", "a", "c", "c", "b"])
    records = read_bibtex(text, limits=Limits(max_repeated_keys=2)).records
    assert [r.warnings for r in records] == [
        (),
        (),
        ("the key 'a' is also used by the entry on line 1; both entries are kept",),
        (
            "the key 'c' is also used by another entry (too many keys are used twice in this"
            " file to say which); both entries are kept",
        ),
        (
            "the key 'c' is also used by another entry (too many keys are used twice in this"
            " file to say which); both entries are kept",
        ),
        ("the key 'b' is also used by the entry on line 2; both entries are kept",),
    ]
