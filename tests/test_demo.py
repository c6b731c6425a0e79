"""The demo data generator and the load_demo command."""

from __future__ import annotations

import random
import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from catalogue.bibtex.identifiers import normalise_issn
from catalogue.demo import generate_bibtex, issn, to_latex
from catalogue.models import Article

KEY = re.compile(r"^@(?!string)\w+\{([^,]+),", re.MULTILINE | re.IGNORECASE)
DOI = re.compile(r"^\s*doi = \{([^}]+)\}", re.MULTILINE)
PASSWORD = re.compile(r"as admin with password (\S+) ")


def test_generate_bibtex_is_deterministic_for_a_seed() -> None:
    assert list(generate_bibtex(200, seed=5)) == list(generate_bibtex(200, seed=5))


def test_generate_bibtex_differs_between_seeds() -> None:
    assert list(generate_bibtex(20, seed=1)) != list(generate_bibtex(20, seed=2))


def test_generate_bibtex_yields_count_entries_with_unique_keys_and_dois() -> None:
    text = "\n".join(generate_bibtex(2000))

    keys = KEY.findall(text)
    dois = [doi.lower() for doi in DOI.findall(text)]

    assert len(keys) == 2000
    assert len(set(map(str.casefold, keys))) == len(keys)
    assert len(dois) > 1500
    assert len(set(dois)) == len(dois)


def test_generate_bibtex_output_parses_without_problems() -> None:
    from catalogue.bibtex import read_bibtex  # imported here: the package is young

    result = read_bibtex("\n".join(generate_bibtex(500, seed=3)))

    assert [str(p) for p in result.problems if p.severity == "error"] == []
    assert [(r.key, r.warnings) for r in result.records if r.warnings] == []
    assert len(result.records) == 500
    assert {r.entry_type for r in result.records} == {"article", "inproceedings", "book", "misc"}
    assert all(r.title and r.authors and r.year for r in result.records)
    scopus = [r for r in result.records if r.fields.get("source") == "Scopus"]
    assert all(r.issn and r.doi and r.journal and r.keywords for r in scopus)


def test_generate_bibtex_uses_macros_accents_and_particles() -> None:
    text = "\n".join(generate_bibtex(500))

    assert text.startswith("@string{")
    assert re.search(r"month = [a-z]{3},", text)
    assert "series = lncs" in text
    assert '{\\"u}' in text
    assert "van der Berg, " in text
    assert "{DNA}" in text


@pytest.mark.parametrize("seed", range(20))
def test_issn_has_a_valid_check_digit(seed: int) -> None:
    value = issn(random.Random(seed))

    assert normalise_issn(value) == f"{value[:4]}-{value[4:]}"


def test_to_latex_writes_accents_as_commands() -> None:
    assert to_latex("Müller, José Ødegaard") == "M{\\\"u}ller, Jos{\\'e} {\\O}degaard"


def load_demo(**options: object) -> str:
    out = StringIO()
    call_command("load_demo", stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


@pytest.mark.django_db
def test_load_demo_imports_the_seed_and_the_articles_once(settings) -> None:
    settings.DEBUG = True

    load_demo(articles=50)
    first = Article.objects.count()
    load_demo(articles=50)

    assert first == 51
    assert Article.objects.count() == 51
    assert Article.objects.filter(doi="10.1016/j.diii.2020.11.007").exists()


@pytest.mark.django_db
def test_load_demo_makes_an_admin_with_a_new_password_each_run(settings) -> None:
    settings.DEBUG = True

    first = PASSWORD.search(load_demo(articles=5)).group(1)
    second = PASSWORD.search(load_demo(articles=5)).group(1)

    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser
    assert admin.is_staff
    assert first != second
    assert admin.check_password(second)


@pytest.mark.django_db
def test_load_demo_gives_importers_the_import_permission(settings) -> None:
    settings.DEBUG = True

    load_demo(articles=1)

    importers = Group.objects.get(name="Importers")
    assert "import_bibtex" in importers.permissions.values_list("codename", flat=True)


@pytest.mark.django_db
def test_load_demo_refuses_when_debug_is_off(settings) -> None:
    settings.DEBUG = False

    with pytest.raises(CommandError, match="--force"):
        load_demo(articles=1)

    assert Article.objects.count() == 0


@pytest.mark.django_db
def test_load_demo_runs_with_debug_off_when_forced(settings) -> None:
    settings.DEBUG = False

    load_demo(articles=2, force=True)

    assert Article.objects.count() == 3
