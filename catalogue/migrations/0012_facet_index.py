"""The catalogue's version number and the stored bitmaps of `catalogue.facet_index`.

Triggers raise the number whenever what facets count changes: an article
added or deleted, an article's year, type or journal, a keyword or author
link. Edits to titles, abstracts and the like leave it alone.

On PostgreSQL they are statement triggers, named so that they run before the
count triggers of 0010 on the same table: every writer takes the version
row's lock first, then the count rows' locks, so writers never deadlock.
As with 0006 and 0010, `tests/test_facet_index.py` checks they are in place.
"""

from django.db import migrations, models

BUMP = "UPDATE catalogue_catalogueversion SET number = number + 1"
LINKS = [("catalogue_articlekeyword", "keyword_id"), ("catalogue_authorship", "author_id")]
ARTICLE_FACETS = ("year", "entry_type", "journal_id")


def sqlite_triggers():
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in ARTICLE_FACETS)
    statements = [
        "CREATE TRIGGER catalogue_article_bump_update"
        f" AFTER UPDATE OF {', '.join(ARTICLE_FACETS)} ON catalogue_article"
        f" WHEN {changed} BEGIN {BUMP}; END"
    ]
    for table, column in [("catalogue_article", None), *LINKS]:
        statements += [
            f"CREATE TRIGGER {table}_bump_{event} AFTER {event.upper()} ON {table}"
            f" BEGIN {BUMP}; END"
            for event in ("insert", "delete")
        ]
        if column:
            statements.append(
                f"CREATE TRIGGER {table}_bump_update AFTER UPDATE OF article_id, {column}"
                f" ON {table} WHEN OLD.article_id <> NEW.article_id OR OLD.{column} <> NEW.{column}"
                f" BEGIN {BUMP}; END"
            )
    return statements


def postgresql_triggers():
    moved = " OR ".join(f"o.{c} IS DISTINCT FROM n.{c}" for c in ARTICLE_FACETS)
    statements = [
        "CREATE FUNCTION catalogue_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN IF EXISTS (SELECT 1 FROM changed_rows) THEN {BUMP}; END IF;"
        " RETURN NULL; END $$",
        "CREATE FUNCTION catalogue_article_bump_update() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN IF EXISTS (SELECT 1 FROM old_rows o JOIN new_rows n USING (id)"
        f" WHERE {moved}) THEN {BUMP}; END IF; RETURN NULL; END $$",
        "CREATE TRIGGER catalogue_article_bump_update AFTER UPDATE ON catalogue_article"
        " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
        " FOR EACH STATEMENT EXECUTE FUNCTION catalogue_article_bump_update()",
    ]
    for table, column in [("catalogue_article", None), *LINKS]:
        events = [("insert", "NEW"), ("delete", "OLD")] + ([("update", "NEW")] if column else [])
        statements += [
            f"CREATE TRIGGER {table}_bump_{event} AFTER {event.upper()} ON {table}"
            f" REFERENCING {rows} TABLE AS changed_rows"
            " FOR EACH STATEMENT EXECUTE FUNCTION catalogue_bump_version()"
            for event, rows in events
        ]
    return statements


def create(apps, schema_editor):
    apps.get_model("catalogue", "CatalogueVersion").objects.create(pk=1, number=1)
    vendor = schema_editor.connection.vendor
    if vendor not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"the catalogue version needs triggers written for {vendor}")
    for statement in sqlite_triggers() if vendor == "sqlite" else postgresql_triggers():
        schema_editor.execute(statement, params=None)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    names = ["catalogue_article_bump_update"] + [
        f"{table}_bump_{event}"
        for table in ("catalogue_article", *(link for link, _ in LINKS))
        for event in ("insert", "delete")
    ]
    names += [f"{link}_bump_update" for link, _ in LINKS]
    for name in names:
        table = name.rsplit("_bump_", 1)[0]
        on = f" ON {table}" if vendor == "postgresql" else ""
        schema_editor.execute(f"DROP TRIGGER {name}{on}")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION catalogue_bump_version()")
        schema_editor.execute("DROP FUNCTION catalogue_article_bump_update()")


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0011_groups"),
    ]

    operations = [
        migrations.CreateModel(
            name="CatalogueVersion",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("number", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.CreateModel(
            name="FacetBitmap",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("version", models.BigIntegerField()),
                ("build", models.UUIDField()),
                ("facet", models.CharField(max_length=10)),
                ("value", models.CharField(max_length=50)),
                ("floor", models.PositiveIntegerField(default=0)),
                ("articles", models.BinaryField()),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("facet", "value"), name="one_bitmap_per_value")
                ],
            },
        ),
        migrations.RunPython(create, drop),
    ]
