"""`manage.py import_bibtex` on the command line."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from catalogue.models import Article
from tests.conftest import DATA, entry

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("import_bibtex", *args, "--no-progress", stdout=out, stderr=StringIO())
    return out.getvalue()


def test_command_imports_and_summarises(tmp_path: Path) -> None:
    path = tmp_path / "refs.bib"
    path.write_text(
        entry("a", title="One") + "@article{b,\n title={Open\n\n" + entry("c", title="Two")
    )
    output = run(str(path))
    assert "refs.bib: 2 created, 0 updated, 0 unchanged, 1 failed" in output
    assert "error: line 4 (b):" in output
    assert Article.objects.count() == 2


def test_command_reimport_reports_unchanged() -> None:
    run(str(DATA / "seed.bib"))
    assert "0 created, 0 updated, 1 unchanged, 0 failed" in run(str(DATA / "seed.bib"))


def test_command_fails_when_a_file_cannot_be_read(tmp_path: Path) -> None:
    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(b"%PDF-1.4\n\x00\x01binary")
    with pytest.raises(CommandError, match="2 file\\(s\\) could not be read"):
        run(str(pdf), str(tmp_path / "missing.bib"), str(DATA / "seed.bib"))
    # The readable file was still imported.
    assert Article.objects.count() == 1


def test_dry_run_names_each_possible_duplicates_other_entry_once(tmp_path: Path) -> None:
    path = tmp_path / "refs.bib"
    path.write_text(
        entry("first", title="Cryoneurolysis of the knee", author="Lee, K", year="2019")
        + entry("second", title="Cryoneurolysis of the knee", author="Lee, K", year="2019")
        + entry("twice", title="One record", doi="10.1/twice")
        + entry("twice", title="One record", doi="10.1/twice")
    )

    out = run(str(path), "--dry-run")

    duplicates = [line for line in out.splitlines() if "possible duplicate:" in line]
    assert duplicates == [
        "  possible duplicate: line 6 (second): the same title, year and first author as line 1",
        "  possible duplicate: line 15 (twice): the same record as the entry on line 11;"
        " this copy was skipped",
    ]


def test_command_says_how_many_problems_it_does_not_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("catalogue.models.PROBLEMS_LISTED", 2)
    path = tmp_path / "refs.bib"
    path.write_text(
        "".join(entry(f"w{i}", title="T", volume="9" * 300) for i in range(5))
        + "".join(entry(f"e{i}", year="2020") for i in range(3))
    )
    output = run(str(path))
    assert "5 created, 0 updated, 0 unchanged, 3 failed" in output
    assert output.count("warning: line") == 2
    assert output.count("error: line") == 2
    assert "… and 1 more error, not listed" in output
    assert "… and 3 more warnings, not listed" in output
