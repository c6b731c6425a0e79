"""Reading files in bounded chunks (catalogue.bibtex.stream)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from catalogue.bibtex import (
    DEFAULT_LIMITS,
    Problem,
    Record,
    count_entries,
    iter_bibtex,
    read_bibtex,
)
from catalogue.bibtex.stream import _Chunker, _Surveyor


def entry(key: str, **fields: str) -> str:
    body = "".join(f",\n  {name} = {{{value}}}" for name, value in fields.items())
    return f"@article{{{key}{body}\n}}\n\n"


# Several chunks: more text than one chunk holds.
PAD = "x" * 2_000
MANY = "@string{jn = {Journal of Things}}\n\n" + "".join(
    entry(f"k{i}", title=f"Paper {i}", note=PAD) for i in range(1_500)
)


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bib") / "many.bib"
    # A journal macro used in the last entry, chunks after its definition.
    path.write_text(MANY + entry("last", journal="@@JN@@").replace("{@@JN@@}", "jn"))
    return path


def test_iter_bibtex_reads_every_entry_with_its_line_across_chunks(many: Path) -> None:
    assert many.stat().st_size > 2_000_000  # two chunks at least
    records = list(iter_bibtex(many))
    assert all(isinstance(r, Record) for r in records)
    assert len(records) == 1_501
    expected_line = 3
    for i, record in enumerate(records[:-1]):
        assert (record.key, record.line, record.title) == (f"k{i}", expected_line, f"Paper {i}")
        expected_line += 5
    assert (records[-1].key, records[-1].journal) == ("last", "Journal of Things")


def test_file_object_gives_what_the_path_and_the_text_give(many: Path) -> None:
    with many.open("rb") as file:
        from_file = list(iter_bibtex(file))
    assert from_file == list(iter_bibtex(str(many)))
    assert from_file == read_bibtex(many.read_text()).records


def test_file_object_is_read_from_its_position() -> None:
    file = io.BytesIO(b"junk before\n@book{a, title = {A}}\n")
    file.seek(12)
    assert [(r.key, r.line) for r in iter_bibtex(file)] == [("a", 1)]


def test_chunks_are_cut_only_between_entries() -> None:
    text = (
        entry("a", abstract="one\n@twitter{x, y = z}\nsaid")
        + entry("b", title="B")
        + "@string{s = {S}}\n"
        + entry("c", abstract="{nested\n  @misc{phantom,\n}}")
    ) * 20
    pieces = [text[i : i + 7] for i in range(0, len(text), 7)]
    chunks = list(_Chunker(DEFAULT_LIMITS, chunk_chars=60).chunks(pieces))
    assert "".join(text for _, text in chunks) == text  # type: ignore[misc]
    assert len(chunks) > 20
    for line, chunk in chunks:  # type: ignore[misc]
        assert chunk.startswith("@")
        assert not chunk.startswith("@twitter")
        assert not chunk.startswith("@misc")
        assert line == text[: text.index(chunk)].count("\n") or chunk in text


def test_crossref_parent_after_the_child_in_a_later_chunk() -> None:
    text = (
        entry("child", title="A Paper", crossref="conf").replace("@article", "@inproceedings")
        + "".join(entry(f"k{i}", title=f"T{i}", note=PAD) for i in range(1_200))
        + entry("conf", title="Proc. of Conf", year="2020").replace("@article", "@proceedings")
    )
    items = list(iter_bibtex(io.BytesIO(text.encode())))
    child = next(r for r in items if isinstance(r, Record) and r.key == "child")
    assert (child.line, child.year, child.fields["booktitle"]) == (1, 2020, "Proc. of Conf")
    assert child.warnings == ()
    # It waited for its parent: yielded after it, and read_bibtex puts it back first.
    assert [r.key for r in items[-2:]] == ["conf", "child"]  # type: ignore[union-attr]
    assert read_bibtex(text).records[0].key == "child"


def test_children_beyond_the_waiting_limit_free_their_parents_read_ahead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("catalogue.bibtex.stream.WAITING_LIMIT", 100)
    # BibTeX's order: every parent after its children (3,000 of them, about
    # 6 MB: a chunk is at most 3); the parents' field uses a macro defined
    # after the children, before the parents.
    children = "".join(
        entry(f"c{i}", title=f"Paper {i}", crossref=f"conf{i % 3}", note=PAD).replace(
            "@article", "@inproceedings"
        )
        for i in range(3_000)
    )
    parents = "@string{acm = {ACM Press}}\n\n" + "".join(
        f"@proceedings{{conf{n}, title = {{Proc. {n}}}, year = {2000 + n}, publisher = acm}}\n\n"
        for n in range(3)
    )
    items = list(iter_bibtex(io.BytesIO((children + parents).encode())))
    # The first chunk's children waited, then the parents were read ahead:
    # those after that did not wait, and came out in file order.
    keys = [r.key for r in items]  # type: ignore[union-attr]
    assert keys[-1_003:] == [*(f"c{i}" for i in range(2_000, 3_000)), "conf0", "conf1", "conf2"]
    assert sorted(keys) == sorted([*(f"c{i}" for i in range(3_000)), "conf0", "conf1", "conf2"])
    children_read = [r for r in items if r.key.startswith("c") and r.key[1].isdigit()]  # type: ignore[union-attr]
    assert {(r.fields["booktitle"], r.year, r.publisher) for r in children_read} == {  # type: ignore[union-attr]
        ("Proc. 0", 2000, "ACM Press"),
        ("Proc. 1", 2001, "ACM Press"),
        ("Proc. 2", 2002, "ACM Press"),
    }
    assert all(r.warnings == () for r in items)  # type: ignore[union-attr]


def test_read_ahead_parents_in_parentheses_are_found_and_missing_ones_warned_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("catalogue.bibtex.stream.WAITING_LIMIT", 100)
    children = "".join(
        entry(f"c{i}", title=f"Paper {i}", crossref="conf" if i % 2 else "gone", note=PAD)
        for i in range(3_000)
    )
    parent = "@proceedings(conf, title = {Proc.}, year = 2020)\n"
    items = list(iter_bibtex(io.BytesIO((children + parent).encode())))
    keys = [r.key for r in items]  # type: ignore[union-attr]
    assert keys[-1_001:] == [*(f"c{i}" for i in range(2_000, 3_000)), "conf"]
    by_key = {r.key: r for r in items}  # type: ignore[union-attr]
    assert (by_key["c1"].year, by_key["c1"].warnings) == (2020, ())
    assert (by_key["c2"].year, by_key["c2"].warnings) == (
        None,
        ("crossref 'gone': no entry with that key",),
    )


@pytest.mark.parametrize("name", ["crossref", "Crossref", "CrossRef", "CROSSREF", "cRoSsReF"])
def test_crossref_in_any_letter_case_finds_a_parent_further_on(name: str) -> None:
    child = entry("child", title="A Paper", **{name: "Conf"}).replace("@article", "@inproceedings")
    parent = entry("conf", title="Proc. of Conf", year="2020").replace("@article", "@proceedings")
    records = read_bibtex(child + parent).records
    assert [(r.key, r.year, r.fields.get("booktitle")) for r in records] == [
        ("child", 2020, "Proc. of Conf"),
        ("conf", 2020, None),
    ]
    assert records[0].warnings == ()


def test_crossref_child_whose_parent_never_comes_is_warned() -> None:
    text = entry("child", crossref="Gone") + entry("other", title="x", crossref="gone")
    records = read_bibtex(text + entry("a", title="y")).records
    assert records[0].warnings == ("crossref 'Gone': no entry with that key",)


def test_repeated_key_is_found_across_chunks() -> None:
    text = entry("Dup", title="One") + MANY + entry("dup", title="Two")
    records = read_bibtex(text).records
    assert records[-1].warnings == (
        "the key 'dup' is also used (as 'Dup') by the entry on line 1; both entries are kept",
    )


def test_keys_whose_hashes_share_bits_are_not_taken_for_repeated_keys() -> None:
    surveyor = _Surveyor()
    # Four keys: a bitmap of 512 bits, in which 5 and 5 + 512 fall on one bit.
    surveyor.hashes.extend([5, 5 + 512, -7, -7])
    assert surveyor.repeated() == frozenset({-7})


def many_keys(count: int, distinct: int) -> str:
    """`count` entry heads whose keys cycle through `distinct` keys."""
    return "".join(f"@article{{key{i % distinct},\n}}\n" for i in range(count))


def test_repeated_keys_are_found_among_a_hundred_thousand() -> None:
    surveyor = _Surveyor()
    surveyor.feed(many_keys(100_000, 99_000), final=True)
    assert surveyor.repeated() == {hash(f"key{i}") for i in range(1_000)}


def test_keys_set_aside_in_files_are_counted_share_by_share(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_Surveyor, "HASHES_IN_MEMORY", 10_000)
    surveyor = _Surveyor()
    text = many_keys(100_000, 99_000)
    # Fed in pieces, so that hashes go to the files several times, the last
    # ones only when counted.
    for start in range(0, len(text), 150_001):
        surveyor.feed(text[start : start + 150_001])
    surveyor.feed("", final=True)
    assert surveyor.shares
    files = list(surveyor.shares)
    assert surveyor.repeated() == {hash(f"key{i}") for i in range(1_000)}
    assert all(file.closed for file in files)


def test_a_file_read_with_keys_set_aside_warns_of_each_repeated_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_Surveyor, "HASHES_IN_MEMORY", 50)
    # Four lines an entry: k7 starts on line 29, k250 on line 1001.
    keys = [f"k{i}" for i in range(300)] + ["K7", "k250", "k7"]
    text = "".join(entry(key, title=f"Title {n}") for n, key in enumerate(keys))
    records = list(iter_bibtex(io.BytesIO(text.encode())))
    warned = {r.key: r.warnings for r in records if r.warnings}
    assert warned == {
        "K7": (
            "the key 'K7' is also used (as 'k7') by the entry on line 29; both entries are kept",
        ),
        "k250": ("the key 'k250' is also used by the entry on line 1001; both entries are kept",),
        "k7": ("the key 'k7' is also used by the entry on line 29; both entries are kept",),
    }


def test_count_entries_counts_entry_lines_only(tmp_path: Path) -> None:
    text = "@string{a = {A}}\n@COMMENT{x}\n@preamble{y}\n@book{k,}\n  @ARTICLE{j,}\n% @misc{m,}\n"
    path = tmp_path / "c.bib"
    path.write_text(text * 1000)
    assert count_entries(path) == 2000
    file = io.BytesIO(text.encode())
    file.seek(5)
    assert count_entries(file) == 2
    assert file.tell() == 5


def test_count_entries_reads_utf16() -> None:
    data = "\ufeff@book{a,}\n@book{b,}\n".encode("utf-16-le")
    assert count_entries(io.BytesIO(data)) == 2


def test_count_entries_across_read_blocks(many: Path) -> None:
    assert count_entries(many) == 1_501


def test_invalid_utf8_warning_comes_first() -> None:
    items = list(iter_bibtex(io.BytesIO(b"@book{a, title = {Caf\xe9}}\n")))
    assert isinstance(items[0], Problem)
    assert items[0].line == 0
    assert isinstance(items[1], Record)
    assert items[1].title == "Café"


def test_skip_yields_known_entries_instead_of_records() -> None:
    data = b"@article{a, title={A}}\n@article{b, title={B}}\n"
    first = {r.key: r.fingerprint for r in iter_bibtex(io.BytesIO(data))}
    held = {first["a"]}
    items = list(iter_bibtex(io.BytesIO(data), skip=lambda fingerprints: fingerprints & held))
    assert [type(i).__name__ for i in items] == ["Known", "Record"]
    assert (items[0].key, items[0].line, items[0].fingerprint) == ("a", 1, first["a"])


def test_fingerprint_changes_with_any_field() -> None:
    one = next(iter_bibtex(io.BytesIO(b"@article{a, title={A}, year=2020}")))
    same = next(iter_bibtex(io.BytesIO(b"@article{a,\n  year = 2020, title = {A}}")))
    other = next(iter_bibtex(io.BytesIO(b"@article{a, title={A}, year=2021}")))
    assert one.fingerprint == same.fingerprint != other.fingerprint
