"""Previews: what an import would do, worked out without writing."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from django.db import connection

from catalogue.importer import preview_file
from catalogue.models import Article, Author, ImportBatch, Keyword
from tests.conftest import entry

pytestmark = pytest.mark.django_db
Importer = Callable[..., ImportBatch]


def preview(text: str):  # noqa: ANN201
    return preview_file(io.BytesIO(text.encode()))


def test_preview_writes_nothing(db: None) -> None:
    result = preview(entry("a", title="A", author="New, Person", keywords="fresh"))
    assert (result.total, result.new) == (1, 1)
    assert Article.objects.count() == Author.objects.count() == Keyword.objects.count() == 0


def test_preview_shows_changed_fields_old_to_new(import_text: Importer) -> None:
    import_text(entry("a", title="Old title", year="2020", doi="10.1/a"))
    result = preview(entry("a", title="New title", year="2021", doi="10.1/a"))
    [update] = result.updates
    assert update["changes"]["title"] == ["Old title", "New title"]
    assert update["changes"]["year"] == [2020, 2021]
    assert (result.new, result.updated, result.unchanged) == (0, 1, 0)


def test_preview_counts_unchanged_entries(import_text: Importer, seed_bytes: bytes) -> None:
    import_text(seed_bytes)
    result = preview_file(io.BytesIO(seed_bytes))
    assert (result.new, result.updated, result.unchanged) == (0, 0, 1)


@pytest.mark.parametrize(
    ("held", "incoming", "reason"),
    [
        (
            entry("smith2020", title="Cold nerve blocks", author="Smith, A", year="2020"),
            entry("other", title="Cold nerve blocks.", author="Smith, A", year="2020"),
            "the same title, year and first author",
        ),
        (
            entry(
                "smith2020",
                title="Cryoneurolysis for knee pain: a review",
                author="Smith, A",
                year="2020",
            ),
            entry(
                "other",
                title="Cryoneurolysis for knee pains: a review",
                author="Smith, A",
                year="2020",
            ),
            "a nearly identical title",
        ),
    ],
)
def test_preview_flags_likely_duplicates_of_held_articles(
    import_text: Importer, held: str, incoming: str, reason: str
) -> None:
    import_text(held)
    [duplicate] = preview(incoming).duplicates
    assert duplicate["reason"].startswith(reason)
    assert duplicate["article"] == Article.objects.get().pk


def test_preview_flags_duplicates_within_the_file(db: None) -> None:
    text = (
        entry("a", title="Same paper", doi="10.1/x", author="Lee, K", year="2019")
        + entry("b", title="Same paper", doi="10.1/x", author="Lee, K", year="2019")
        + entry("C", title="Another", author="Kim, J", year="2018")
        + entry("c", title="Something else", author="Park, S", year="2017")
    )
    reasons = {(d["key"], d["reason"]) for d in preview(text).duplicates}
    assert ("b", "the same record as the entry on line 1; this copy was skipped") in reasons
    assert ("c", "the same citation key as C (line 13) in another letter case") in reasons


def test_preview_names_the_line_of_an_earlier_entry_in_the_file_a_new_one_resembles(
    db: None,
) -> None:
    text = entry("first", title="Cryoneurolysis of the knee", author="Lee, K", year="2019")
    text += entry("second", title="Cryoneurolysis of the knee", author="Lee, K", year="2019")

    [duplicate] = preview(text).duplicates

    assert duplicate["key"] == "second"
    assert duplicate["reason"] == "the same title, year and first author"
    assert (duplicate["article"], duplicate["other_line"]) == (None, 1)


def test_preview_lists_failures_with_line_and_reason(db: None) -> None:
    result = preview(
        entry("good", title="G")
        + "@article{bad,\n title = {Open\n\n"
        + entry("untitled", year="2020")
    )
    assert [(f["line"], f["key"]) for f in result.failures] == [(4, "bad"), (7, "untitled")]
    assert result.new == 1


def test_preview_counts_every_problem_beyond_those_it_lists(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("catalogue.importer.PREVIEW_LIST_LIMIT", 2)
    text = "".join(entry(f"w{i}", title="T", volume="9" * 300) for i in range(5))
    text += "".join(entry(f"e{i}", year="2020") for i in range(3))
    result = preview(text)
    assert (result.failure_count, result.warning_count) == (3, 5)
    assert [f["key"] for f in result.failures] == ["e0", "e1"]
    assert [w["key"] for w in result.warnings] == ["w0", "w1"]
    assert result.truncated


def test_preview_does_not_load_articles_without_an_author_or_a_year(
    import_text: Importer,
) -> None:
    # Their blocks ("2020|", "|smith") are shared by every such article and
    # never compared: loading them for each chunk would grow with the catalogue.
    import_text(
        entry("held1", title="Same title", year="2020")
        + entry("held2", title="Same title", author="Smith, A")
    )
    statements: list[str] = []

    def record(execute, sql, params, many, context):  # noqa: ANN001, ANN202
        statements.append(sql)
        return execute(sql, params, many, context)

    # (The importer empties Django's query log as it goes: watch the cursor.)
    with connection.execute_wrapper(record):
        result = preview(
            entry("new1", title="Same title", year="2020")
            + entry("new2", title="Same title", author="Smith, A")
        )
    assert (result.new, result.duplicates) == (2, [])
    article_reads = [sql for sql in statements if 'FROM "catalogue_article"' in sql]
    assert article_reads
    assert not [sql for sql in article_reads if "dedupe_block" in sql.split("WHERE")[-1]]
