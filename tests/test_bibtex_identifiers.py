"""DOIs, ISSNs, pages, years, months (catalogue.bibtex.identifiers)."""

from __future__ import annotations

import pytest

from catalogue.bibtex.identifiers import (
    normalise_doi,
    normalise_issn,
    normalise_pages,
    parse_month,
    parse_year,
)


@pytest.mark.parametrize(
    "value",
    [
        "10.1016/j.diii.2020.11.007",
        "10.1016/J.DIII.2020.11.007",
        " https://doi.org/10.1016/j.diii.2020.11.007 ",
        "http://dx.doi.org/10.1016/j.diii.2020.11.007",
        "doi:10.1016/j.diii.2020.11.007",
        "DOI: 10.1016/j.diii.2020.11.007",
        "{10.1016/j.diii.2020.11.007}",
    ],
)
def test_doi_loses_prefix_and_case(value: str) -> None:
    assert normalise_doi(value) == "10.1016/j.diii.2020.11.007"


@pytest.mark.parametrize("value", ["", "not a doi", "11.1000/x", "https://example.org/10.1/x"])
def test_doi_that_is_not_one_becomes_empty(value: str) -> None:
    assert normalise_doi(value) == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("22115684", "2211-5684"),
        ("2211-5684", "2211-5684"),
        ("2211 5684", "2211-5684"),
        ("2434-561x", "2434-561X"),
        ("2211-5685", ""),
        ("12345", ""),
        ("0000-0000X; 2211-5685, 22115684", "2211-5684"),
    ],
)
def test_issn_is_validated_and_formatted(value: str, expected: str) -> None:
    assert normalise_issn(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("273-278", "273–278"),
        ("273--278", "273–278"),
        ("100 – 127", "100–127"),
        ("100—127", "100–127"),
        ("442--9", "442–449"),
        ("1201-15", "1201–1215"),
        ("e1234", "e1234"),
        ("S12--S15", "S12–S15"),
        ("iii-xii", "iii-xii"),
        ("", ""),
    ],
)
def test_pages_get_an_en_dash_and_full_ends(value: str, expected: str) -> None:
    assert normalise_pages(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2021", 2021), ("{2016}", 2016), ("c. 1850?", 1850), ("in press", None), ("12345", None)],
)
def test_year_is_the_first_four_digit_year(value: str, expected: int | None) -> None:
    assert parse_year(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("9", 9),
        ("09", 9),
        ("sep", 9),
        ("Sept.", 9),
        ("September", 9),
        ("{Sep-Oct}", 9),
        ("Sep-Oct", 9),
        ("December", 12),
        ("13", None),
        ("spring", None),
        ("", None),
    ],
)
def test_month_is_the_first_month_named(value: str, expected: int | None) -> None:
    assert parse_month(value) == expected
