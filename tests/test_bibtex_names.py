"""Author and editor fields into people (catalogue.bibtex.names, text)."""

from __future__ import annotations

import pytest

from catalogue.bibtex import Person, normalise_person, parse_names


def people(value: str) -> list[Person]:
    return list(parse_names(value)[0])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Filippiadis, D.", Person(family="Filippiadis", given="D.")),
        ("Donald E. Knuth", Person(family="Knuth", given="Donald E.")),
        ("Brinch Hansen, Per", Person(family="Brinch Hansen", given="Per")),
        ("van der Berg, Jan", Person(family="Berg", given="Jan", prefix="van der")),
        ("Jan van der Berg", Person(family="Berg", given="Jan", prefix="van der")),
        ("de la Fontaine, Jean", Person(family="Fontaine", given="Jean", prefix="de la")),
        ("Ludwig van Beethoven", Person(family="Beethoven", given="Ludwig", prefix="van")),
        ("Smith, Jr., John", Person(family="Smith", given="John", suffix="Jr.")),
        ("John Smith Jr.", Person(family="Smith", given="John", suffix="Jr.")),
        ("Ribeiro Jr., A.", Person(family="Ribeiro", given="A.", suffix="Jr.")),
        ("Philippe Robert", Person(family="Robert", given="Philippe")),
    ],
)
def test_name_forms_are_split_into_parts(value: str, expected: Person) -> None:
    assert people(value) == [expected]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (r"Vesel{\'y}, Jan", Person(family="Veselý", given="Jan")),
        (r"M{\"u}ller, J{\"o}rg", Person(family="Müller", given="Jörg")),
        (r"Hand{\aa}, Aleksander", Person(family="Handå", given="Aleksander")),
        (r"Fran\c{c}ois Vi\`{e}te", Person(family="Viète", given="François")),
    ],
)
def test_parts_are_decoded_after_splitting(value: str, expected: Person) -> None:
    assert people(value) == [expected]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{World Health Organization}", "World Health Organization"),
        (r"{{\LaTeX} Project Team}", "LaTeX Project Team"),
        ("{Simon and Schuster}", "Simon and Schuster"),
    ],
)
def test_braced_corporate_names_stay_whole(value: str, expected: str) -> None:
    assert people(value) == [Person(family=expected, is_organisation=True)]


def test_authors_come_back_in_order() -> None:
    value = "Filippiadis, D. and Efthymiou, E. and Prologo, J.D."
    assert [p.family for p in people(value)] == ["Filippiadis", "Efthymiou", "Prologo"]


def test_and_others_sets_et_al_and_is_no_person() -> None:
    found, et_al, warnings = parse_names("Smith, J. and Doe, A. and others")
    assert found == (Person(family="Smith", given="J."), Person(family="Doe", given="A."))
    assert et_al is True
    assert warnings == []


def test_scopus_affiliation_letters_glued_to_initials_are_stripped() -> None:
    assert people("Guler, A.T.a and Waaijer, C.J.F.b") == [
        Person(family="Guler", given="A.T."),
        Person(family="Waaijer", given="C.J.F."),
    ]


@pytest.mark.parametrize(
    "value",
    [
        "Daim T.U., Kozanoglu D.C., Smith J.",
        "Daim T.U., Kozanoglu D.C.",
        "Daim T.U. and Kozanoglu D.C.",
    ],
)
def test_scopus_family_first_lists_are_split_into_people(value: str) -> None:
    assert people(value)[:2] == [
        Person(family="Daim", given="T.U."),
        Person(family="Kozanoglu", given="D.C."),
    ]


def test_scopus_list_keeps_multi_word_family_names() -> None:
    assert people("Silva M.F., Luis Lima J.")[1] == Person(family="Luis Lima", given="J.")


def test_name_with_unbalanced_brace_is_a_warning_not_a_crash() -> None:
    found, _, warnings = parse_names("Smith, {J}ohn} and Doe, Ann")
    assert [p.family for p in found] == ["Smith", "Doe"]
    assert len(warnings) == 1
    assert "brace" in warnings[0]


def test_author_given_only_as_a_macro_is_kept() -> None:
    assert people(r"\Thanh") == [Person(family="Thanh")]


def test_empty_field_gives_nobody() -> None:
    assert parse_names("  ") == ((), False, [])


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (Person(family="Müller", given="J."), Person(family="Muller", given="J.")),
        (Person(family="Müller", given="J."), Person(family="MÜLLER", given="J")),
        (
            Person(family="Berg", given="Jan", prefix="van der"),
            Person(family="van der Berg", given="Jan"),
        ),
        (Person(family="Prologo", given="J.D."), Person(family="Prologo", given="J. D.")),
    ],
)
def test_matching_key_ignores_accents_case_and_punctuation(first: Person, second: Person) -> None:
    assert normalise_person(first) == normalise_person(second)


def test_matching_key_keeps_initials_apart_from_full_names() -> None:
    initial = normalise_person(Person(family="Müller", given="J."))
    full = normalise_person(Person(family="Müller", given="Johann"))
    assert initial != full


def test_matching_key_reads_family_then_given() -> None:
    assert normalise_person(Person(family="Filippiadis", given="D.")) == "filippiadis|d"


def test_scopus_list_with_a_mononym_and_lower_case_initials() -> None:
    value = "Huang R., Kinshuk, Cioppo-Morstadt J.d., Chen N.-S."
    assert people(value) == [
        Person(family="Huang", given="R."),
        Person(family="Kinshuk"),
        Person(family="Cioppo-Morstadt", given="J.d."),
        Person(family="Chen", given="N.-S."),
    ]


def test_family_first_single_name_is_not_taken_for_a_list() -> None:
    assert people("Smith, John") == [Person(family="Smith", given="John")]
