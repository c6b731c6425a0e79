"""Keyword fields into keywords (catalogue.bibtex.keywords, text)."""

from __future__ import annotations

import pytest

from catalogue.bibtex import fold, normalise_keyword, normalise_title, split_keywords


def names(value: str, kind: str = "indexed") -> list[str]:
    return [k.name for k in split_keywords(value, kind)]  # type: ignore[arg-type]


def test_semicolons_split_and_commas_stay_for_author_keywords() -> None:
    assert names("open hardware; 3D printing, additive; Arduino", "author") == [
        "open hardware",
        "3D printing, additive",
        "Arduino",
    ]


def test_without_semicolons_commas_split() -> None:
    assert names("open hardware, Arduino ,  3D printing", "author") == [
        "open hardware",
        "Arduino",
        "3D printing",
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "liquid nitrogen; nitrous oxide, abdominal tumor; abscess",
            ["nitrous oxide", "abdominal tumor"],
        ),
        (
            "pain; randomized controlled trial (topic), Analgesia; Cryotherapy",
            ["randomized controlled trial (topic)", "Analgesia"],
        ),
        ("human; Alzheimer disease, Aged; Humans", ["Alzheimer disease", "Aged"]),
    ],
)
def test_scopus_vocabulary_groups_joined_by_comma_are_split(
    value: str, expected: list[str]
) -> None:
    found = names(value)
    start = found.index(expected[0])
    assert found[start : start + 2] == expected


@pytest.mark.parametrize("heading", ["Diabetes Mellitus, Type 2", "Pain, Postoperative"])
def test_mesh_inverted_headings_stay_whole(heading: str) -> None:
    value = f"insulin; metformin, human; Humans; {heading}; Middle Aged"
    assert heading in names(value)


def test_whitespace_is_collapsed_and_empties_dropped() -> None:
    assert names("  open\n  hardware ;; ; Arduino;", "author") == ["open hardware", "Arduino"]


def test_duplicates_keep_the_first_spelling() -> None:
    assert names("Arduino; arduino; ARDUINO; Raspberry Pi", "author") == ["Arduino", "Raspberry Pi"]


def test_emtree_and_mesh_spellings_of_one_term_both_stay() -> None:
    # Two vocabularies: "analgesia" (EMTREE) and "Analgesia" (MeSH); they match
    # through normalise_keyword, so nothing is lost by keeping both.
    assert names("pain; analgesia, Analgesia; Pain") == ["pain", "analgesia", "Analgesia", "Pain"]


def test_kind_is_recorded() -> None:
    assert {k.kind for k in split_keywords("a; b", "author")} == {"author"}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("  Pain,   Postoperative ", "pain, postoperative"),
        ("ＤＮＡ repair", "dna repair"),
        ("Straße", "strasse"),
    ],
)
def test_normalised_keyword_is_nfkc_casefolded_and_single_spaced(name: str, expected: str) -> None:
    assert normalise_keyword(name) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Müller", "muller"),
        ("Straße", "strasse"),
        ("Ørsted", "orsted"),
        ("Æsop", "aesop"),
        ("Łódź", "lodz"),
        ("Đorđe", "dorde"),
        ("Société française", "societe francaise"),
    ],
)
def test_fold_drops_accents_and_case(text: str, expected: str) -> None:
    assert fold(text) == expected


def test_normalised_title_ignores_case_accents_and_punctuation() -> None:
    assert normalise_title("Cryoanalgésia: Current Status -- and Future!") == normalise_title(
        "cryoanalgesia current status and future"
    )
