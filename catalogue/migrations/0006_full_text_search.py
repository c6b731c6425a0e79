"""The full-text index of `catalogue.search`: FTS5 on SQLite, a tsvector on PostgreSQL.

Neither is a Django field, so each is made here in SQL for its database and
filled from the articles already held. It replaces `Article.search_text`.

On SQLite, a later migration that rebuilds `catalogue_article` (Django does
so for most field changes there) drops the delete trigger with the old table:
`tests/test_search.py` checks that it is still in place.
"""

from django.db import migrations

SQLITE = [
    "CREATE VIRTUAL TABLE catalogue_article_fts USING fts5("
    "title, people, journal, abstract, tokenize = 'porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER catalogue_article_fts_delete AFTER DELETE ON catalogue_article"
    " BEGIN DELETE FROM catalogue_article_fts WHERE rowid = old.id; END",
]
SQLITE_REVERSE = [
    "DROP TRIGGER catalogue_article_fts_delete",
    "DROP TABLE catalogue_article_fts",
]
POSTGRESQL = [
    "ALTER TABLE catalogue_article ADD COLUMN search_document tsvector",
    "CREATE INDEX catalogue_article_search_document ON catalogue_article"
    " USING GIN (search_document)",
]
POSTGRESQL_REVERSE = ["ALTER TABLE catalogue_article DROP COLUMN search_document"]


def run(statements_by_vendor):
    def operation(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return operation


def index_existing(apps, schema_editor):
    from catalogue.search import IndexText, index_articles

    Article = apps.get_model("catalogue", "Article")
    Authorship = apps.get_model("catalogue", "Authorship")
    ArticleKeyword = apps.get_model("catalogue", "ArticleKeyword")
    ids = list(Article.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), 1000):
        part = ids[start : start + 1000]
        people = {pk: [] for pk in part}
        for pk, given, family in Authorship.objects.filter(article_id__in=part).order_by(
            "article_id", "position"
        ).values_list("article_id", "author__given", "author__family"):
            people[pk].append(f"{given} {family}")
        for pk, name in ArticleKeyword.objects.filter(article_id__in=part).values_list(
            "article_id", "keyword__name"
        ):
            people[pk].append(name)
        index_articles(
            IndexText(pk, title, people[pk], journal or "", abstract)
            for pk, title, journal, abstract in Article.objects.filter(pk__in=part).values_list(
                "pk", "title", "journal__name", "abstract"
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0005_articlechange_line"),
    ]

    operations = [
        migrations.RemoveField(model_name="article", name="search_text"),
        migrations.RunPython(
            run({"sqlite": SQLITE, "postgresql": POSTGRESQL}),
            run({"sqlite": SQLITE_REVERSE, "postgresql": POSTGRESQL_REVERSE}),
        ),
        migrations.RunPython(index_existing, migrations.RunPython.noop),
    ]
