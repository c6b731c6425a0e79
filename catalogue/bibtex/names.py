"""Author and editor fields into `Person`s.

The split happens on the raw text, where braces still show what belongs
together (`{{\\LaTeX} Project Team}` is one organisation), and only then is
each part decoded from LaTeX.
"""

from __future__ import annotations

import re

from bibtexparser.middlewares.names import (
    InvalidNameError,
    parse_single_name_into_parts,
    split_multiple_persons_names,
)

from .latex import latex_to_unicode
from .records import Person

_WHITESPACE = re.compile(r"\s+")
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
_INITIALS = r"(?:[A-Z]\.-?)+"
# "Daim T.U." - Scopus writes editors (and some authors) family first,
# initials last, and separates the people with commas instead of "and".
_SCOPUS_PERSON = re.compile(r"^(?P<family>\S.*?)\s+(?P<given>" + _INITIALS + r")$")
# In a comma list the initials may hold lower case ("Cioppo-Morstadt J.d.").
_SCOPUS_LIST_PERSON = re.compile(r"^(?P<family>\S.*?)\s+(?P<given>(?:[A-Za-z]\.-?)+)$")
_MONONYM = re.compile(r"^[A-Z][^\W\d_]{2,}$")
# "A.T.a": the 2016-17 Scopus layout glued affiliation letters to initials.
_GLUED_AFFILIATION = re.compile(r"^(?P<initials>(?:[A-Z]\.-?)+)[a-z]{1,2}$")
# The simple, common case needs none of BibTeX's case analysis.
_SIMPLE_LAST_FIRST = re.compile(
    r"^(?P<family>[A-Z][^\s,{}\\]*(?: [A-Z][^\s,{}\\]*)*), (?P<given>[^,{}\\]+)$"
)


# Written after the family name ("Smith Jr., John", "John Smith Jr.").
_SUFFIXES = frozenset(["jr", "jr.", "sr", "sr.", "ii", "iii", "iv"])


def _move_suffix(person: Person) -> Person:
    """BibTeX only finds "Jr." in "Smith, Jr., John"; catch the other spellings."""
    if person.suffix or person.is_organisation:
        return person
    if " " not in person.family and person.family.lower() not in _SUFFIXES:
        return person  # the usual case, cheaply
    family_words = person.family.split(" ")
    if len(family_words) > 1 and family_words[-1].lower() in _SUFFIXES:
        return Person(
            family=" ".join(family_words[:-1]),
            given=person.given,
            prefix=person.prefix,
            suffix=family_words[-1],
        )
    given_words = person.given.split(" ")
    if person.family.lower() in _SUFFIXES and person.given and not person.prefix:
        return Person(
            family=given_words[-1], given=" ".join(given_words[:-1]), suffix=person.family
        )
    return person


def _decode(words: list[str]) -> str:
    return _WHITESPACE.sub(" ", latex_to_unicode(" ".join(words))).strip()


def _is_one_brace_group(name: str) -> bool:
    """Whether the whole name is one `{...}` group (a corporate name)."""
    if not (name.startswith("{") and name.endswith("}")):
        return False
    depth = 0
    for index, char in enumerate(name):
        if char == "{" and (index == 0 or name[index - 1] != "\\"):
            depth += 1
        elif char == "}" and name[index - 1] != "\\":
            depth -= 1
            if depth == 0 and index != len(name) - 1:
                return False
    return True


def _split_scopus_commas(value: str) -> list[Person] | None:
    """People from "Daim T.U., Kozanoglu D.C., Smith J.", or None if not that form."""
    if "{" in value or "\\" in value:
        return None
    pieces = [piece.strip() for piece in value.split(",")]
    if len(pieces) < 2:
        return None
    people: list[Person] = []
    for piece in pieces:
        match = _SCOPUS_LIST_PERSON.match(piece)
        if match:
            people.append(Person(family=match.group("family"), given=match.group("given")))
        elif _MONONYM.match(piece):
            people.append(Person(family=piece))  # "Kinshuk"
        else:
            return None
    # Two people written "Family Initials" at least, so that "Smith, John"
    # (one person, family first) is never taken for a list.
    return people if sum(bool(p.given) for p in people) >= 2 else None


def _strip_glued_affiliation(given: str) -> str:
    match = _GLUED_AFFILIATION.match(given)
    return match.group("initials") if match else given


def _parse_one(name: str, warnings: list[str]) -> Person | None:
    if _is_one_brace_group(name):
        family = _decode([name[1:-1]])
        return Person(family=family, is_organisation=True) if family else None
    simple = _SIMPLE_LAST_FIRST.match(name)
    if simple:
        family, given = simple.group("family", "given")
        if given[-1].islower():
            given = _strip_glued_affiliation(given)
        return _move_suffix(Person(family=family, given=given))
    if "," not in name and "{" not in name:
        family_first = _SCOPUS_PERSON.match(name)  # "Daim T.U." in an "and" list
        if family_first:
            return Person(family=family_first.group("family"), given=family_first.group("given"))
    try:
        parts = parse_single_name_into_parts(name, strict=True)
    except InvalidNameError as error:
        warnings.append(f"name {name!r}: {error.reason.lower()}; read as well as possible")
        parts = parse_single_name_into_parts(name, strict=False)
    family = _decode(parts.last)
    given = _strip_glued_affiliation(_decode(parts.first))
    if not family:
        if not given:
            warnings.append(f"name {name!r} has nothing readable in it; left out")
            return None
        family, given = given, ""
    return _move_suffix(
        Person(family=family, given=given, prefix=_decode(parts.von), suffix=_decode(parts.jr))
    )


def parse_names(value: str) -> tuple[tuple[Person, ...], bool, list[str]]:
    """Split a raw (not yet LaTeX-decoded) author or editor field into people.

    Returns the people in order, whether the list ended in "and others", and
    warnings about names that could not be read cleanly.

    >>> value = r"Vesel{\\'y}, J. and {World Health Organization} and others"
    >>> people, et_al, warnings = parse_names(value)
    >>> [p.display_name for p in people], et_al, warnings
    (['J. Veselý', 'World Health Organization'], True, [])
    """
    value = _WHITESPACE.sub(" ", value).strip()
    warnings: list[str] = []
    if not value:
        return (), False, warnings
    if "{" not in value and "\\" not in value:
        names = _AND.split(value)
        if len(names) == 1 and "," in value:
            scopus = _split_scopus_commas(value)
            if scopus is not None:
                return tuple(scopus), False, warnings
    else:
        names = split_multiple_persons_names(value)
    et_al = False
    if names and names[-1].strip().lower() in ("others", "{others}", "et al.", "et al"):
        et_al = True
        names = names[:-1]
    people: list[Person] = []
    for name in names:
        name = name.strip().strip(",").strip()
        if not name:
            warnings.append('an empty name in the list (two "and" in a row?); left out')
            continue
        try:
            person = _parse_one(name, warnings)
        except Exception as error:  # noqa: BLE001 - one bad name must not lose the entry
            warnings.append(f"name {name!r} could not be read ({error}); left out")
            continue
        if person is not None:
            people.append(person)
    return tuple(people), et_al, warnings
