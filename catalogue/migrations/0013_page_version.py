"""`CatalogueVersion.edits`: raised by every change a page shows that 0012's
`number` leaves alone.

Together they date the pages `catalogue.page_cache` keeps: an article's
title, abstract or any other column edited, authors reordered, a keyword's
kind changed, and a keyword, author or journal added, renamed or removed.
Changes to `article_count` are left out: the count triggers of 0010 make
them, always alongside a link change that raises `number`.

On PostgreSQL they are statement triggers that run BEFORE the statement, so
the version row is locked before any row the statement changes, as 0012's
and 0010's triggers lock it before the count rows: writers never deadlock.
`tests/test_page_cache.py` checks they are in place.
"""

from django.db import migrations, models

BUMP = "UPDATE catalogue_catalogueversion SET edits = edits + 1 WHERE id = 1"
# Tables whose every update shows on a page.
UPDATED = ["catalogue_article", "catalogue_authorship", "catalogue_articlekeyword"]
# Tables whose rows show on pages in their own right; updated through their columns
# other than article_count (0010's triggers write that).
NAMED = {
    "catalogue_keyword": "Keyword",
    "catalogue_author": "Author",
    "catalogue_journal": "Journal",
}


def triggers(apps, vendor):
    """(name, table, event) of every trigger, with the columns an UPDATE names."""
    found = [(f"{table}_edits_update", table, "UPDATE", None) for table in UPDATED]
    for table, model_name in NAMED.items():
        model = apps.get_model("catalogue", model_name)
        columns = [
            f.column
            for f in model._meta.concrete_fields
            if not f.primary_key and f.name != "article_count"
        ]
        found += [
            (f"{table}_edits_insert", table, "INSERT", None),
            (f"{table}_edits_delete", table, "DELETE", None),
            (f"{table}_edits_update", table, "UPDATE", columns),
        ]
    return found


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"the page version needs triggers written for {vendor}")
    if vendor == "postgresql":
        schema_editor.execute(
            "CREATE FUNCTION catalogue_bump_edits() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN {BUMP}; RETURN NULL; END $$"
        )
    for name, table, event, columns in triggers(apps, vendor):
        of = f" OF {', '.join(columns)}" if columns else ""
        if vendor == "sqlite":
            statement = f"CREATE TRIGGER {name} AFTER {event}{of} ON {table} BEGIN {BUMP}; END"
        else:
            statement = (
                f"CREATE TRIGGER {name} BEFORE {event}{of} ON {table}"
                " FOR EACH STATEMENT EXECUTE FUNCTION catalogue_bump_edits()"
            )
        schema_editor.execute(statement, params=None)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for name, table, _event, _columns in triggers(apps, vendor):
        on = f" ON {table}" if vendor == "postgresql" else ""
        schema_editor.execute(f"DROP TRIGGER {name}{on}")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION catalogue_bump_edits()")


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0012_facet_index"),
    ]

    operations = [
        # Django's SQLite AddField rebuilds the table, and SQLite refuses to
        # rename the rebuilt one while 0012's triggers name it. Adding the
        # column in place is the same on both databases.
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE catalogue_catalogueversion"
                    " ADD COLUMN edits bigint NOT NULL DEFAULT 0",
                    "ALTER TABLE catalogue_catalogueversion DROP COLUMN edits",
                )
            ],
            state_operations=[
                migrations.AddField(
                    model_name="catalogueversion",
                    name="edits",
                    field=models.BigIntegerField(default=0),
                )
            ],
        ),
        migrations.RunPython(create, drop),
    ]
