"""SQLite: an import counts the links of its new articles itself, once a chunk.

The row triggers of 0010 and 0012 run three statements for every link row
inserted: a lookup for another row of the same pair, an UPDATE of the
keyword's or author's `article_count` (and of its index), and an UPDATE of
the catalogue version. An import of 100,000 articles inserts some 1,300,000
link rows. Counted once a chunk instead, storing 100,158 entries took 19.8 s
of SQL rather than 21.4 (44.2 s in all rather than 45.4).

The one row of `catalogue_linkcountpause` says whether the connection that
holds the write lock counts the rows it inserts itself. Only the importer
sets it (`catalogue.importer._counted_here`), inside a chunk's transaction,
for the rows of articles it has just created, and clears it before the
commit: no other connection ever sees it set, and a killed import's rollback
clears it with the rest. While it is set, the insert triggers below do
nothing. A database without the row (a table emptied by hand) counts as
usual.

PostgreSQL's statement triggers see a chunk's rows at once and stay as they
are. As with 0010, `tests/test_counts.py` checks the triggers are in place.
"""

import importlib

from django.db import migrations

counts_0010 = importlib.import_module("catalogue.migrations.0010_article_counts")
version_0012 = importlib.import_module("catalogue.migrations.0012_facet_index")

PAUSE_TABLE = "catalogue_linkcountpause"
NOT_PAUSED = f"(SELECT paused FROM {PAUSE_TABLE}) IS NOT 1"


def original_triggers():
    """The insert triggers of 0010 and 0012 that an import's new rows would fire, by name."""
    statements = [
        counts_0010.sqlite_link_triggers(*link)[0] for link in counts_0010.LINKS
    ] + version_0012.sqlite_triggers()
    by_name = {statement.split()[2]: statement for statement in statements}
    return {name: sql for name, sql in by_name.items() if name.endswith("_insert")}


def paused_version(sql):
    if " WHEN " in sql:
        return sql.replace(" WHEN ", f" WHEN {NOT_PAUSED} AND ", 1)
    return sql.replace(" BEGIN ", f" WHEN {NOT_PAUSED} BEGIN ", 1)


def replace_triggers(make):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "sqlite":
            return
        for name, sql in original_triggers().items():
            schema_editor.execute(f"DROP TRIGGER {name}")
            schema_editor.execute(make(sql))

    return run


def create_table(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    schema_editor.execute(
        f"CREATE TABLE {PAUSE_TABLE} (id integer PRIMARY KEY CHECK (id = 1),"
        " paused integer NOT NULL DEFAULT 0)"
    )
    schema_editor.execute(f"INSERT INTO {PAUSE_TABLE} (id, paused) VALUES (1, 0)")


def drop_table(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(f"DROP TABLE {PAUSE_TABLE}")


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0016_search_document_inline"),
    ]

    operations = [
        migrations.RunPython(create_table, drop_table),
        migrations.RunPython(
            replace_triggers(paused_version), replace_triggers(lambda sql: sql)
        ),
    ]
