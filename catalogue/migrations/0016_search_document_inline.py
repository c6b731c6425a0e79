"""PostgreSQL: keep each article's `search_document` in its row.

A document is about 1.8 KB. Past 2 KB, PostgreSQL shrinks a row by moving
its largest values out to the TOAST table; the tsvector compresses badly,
so it was the one moved, uncompressed, and ranking fetched it from there
for every match: most of the ranking's time.

Two settings keep it in the row. STORAGE MAIN moves it out only as a last
resort. That alone would make PostgreSQL move everything else out to bring
the row under 2 KB, titles included, and sorting by title would read them
back one by one (two seconds for 100,000 articles); so rows may also grow
to 4,000 bytes (`toast_tuple_target`), two to a page, before anything is
moved, the abstract first. At 100,000 generated articles: ranking the
3,939 matches of the medium term 21 ms instead of 41, finding the 99,000
of a common word 171 ms instead of 375, sorting every article by title
199 ms instead of 160, tables 546 MB instead of 481.

Only rows written from now on are kept so. `manage.py
rebuild_search_index` rewrites the documents of the articles already held.
"""

from django.db import migrations

FORWARD = [
    "ALTER TABLE catalogue_article SET (toast_tuple_target = 4000)",
    "ALTER TABLE catalogue_article ALTER COLUMN search_document SET STORAGE MAIN",
]
REVERSE = [
    "ALTER TABLE catalogue_article RESET (toast_tuple_target)",
    "ALTER TABLE catalogue_article ALTER COLUMN search_document SET STORAGE EXTENDED",
]


def run(statements):
    def operation(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return operation


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0015_authorship_covering_index"),
    ]

    operations = [
        migrations.RunPython(run(FORWARD), run(REVERSE)),
    ]
