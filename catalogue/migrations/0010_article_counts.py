"""`article_count` on keywords, authors and journals, kept by triggers.

Triggers rather than code in the importer and the admin: every path that
writes links (imports, undo, admin inlines, cascading deletes, merges) then
keeps the counts right without knowing about them.

An article counts once for a keyword even when it has it twice (as an author
keyword and as an indexing term), and once for an author named twice.

SQLite has only row triggers: each link row costs an indexed lookup and an
UPDATE by primary key. PostgreSQL's statement triggers see all the rows of an
INSERT at once (transition tables), so a chunk of an import updates each
keyword once. They lock the rows they update in id order first, so that two
imports at once queue on a shared keyword instead of deadlocking.

As with the full-text trigger of 0006, a later migration that rebuilds one
of these tables on SQLite drops its triggers: `tests/test_counts.py` checks
that they are all in place.
"""

from django.db import migrations, models

# (link table, its column, the table whose rows it counts articles for)
LINKS = [
    ("catalogue_articlekeyword", "keyword_id", "catalogue_keyword"),
    ("catalogue_authorship", "author_id", "catalogue_author"),
]


def sqlite_link_triggers(link, column, target):
    def linked(row, *, other_than_itself=False):
        also = f" AND id <> {row}.id" if other_than_itself else ""
        return (
            f"EXISTS (SELECT 1 FROM {link} WHERE {column} = {row}.{column}"
            f" AND article_id = {row}.article_id{also})"
        )

    add = f"UPDATE {target} SET article_count = article_count + 1 WHERE id = NEW.{column}"
    remove = f"UPDATE {target} SET article_count = article_count - 1 WHERE id = OLD.{column}"
    return [
        f"CREATE TRIGGER {link}_count_insert AFTER INSERT ON {link}"
        f" WHEN NOT {linked('NEW', other_than_itself=True)} BEGIN {add}; END",
        f"CREATE TRIGGER {link}_count_delete AFTER DELETE ON {link}"
        f" WHEN NOT {linked('OLD')} BEGIN {remove}; END",
        f"CREATE TRIGGER {link}_count_update AFTER UPDATE OF article_id, {column} ON {link}"
        f" WHEN OLD.article_id <> NEW.article_id OR OLD.{column} <> NEW.{column} BEGIN"
        f" {remove} AND NOT {linked('OLD')};"
        f" {add} AND NOT {linked('NEW', other_than_itself=True)}; END",
    ]


def sqlite_journal_triggers():
    add = "UPDATE catalogue_journal SET article_count = article_count + 1 WHERE id = NEW.journal_id"
    remove = (
        "UPDATE catalogue_journal SET article_count = article_count - 1 WHERE id = OLD.journal_id"
    )
    table = "catalogue_article"
    return [
        f"CREATE TRIGGER {table}_journal_count_insert AFTER INSERT ON {table}"
        f" WHEN NEW.journal_id IS NOT NULL BEGIN {add}; END",
        f"CREATE TRIGGER {table}_journal_count_delete AFTER DELETE ON {table}"
        f" WHEN OLD.journal_id IS NOT NULL BEGIN {remove}; END",
        f"CREATE TRIGGER {table}_journal_count_update AFTER UPDATE OF journal_id ON {table}"
        f" WHEN OLD.journal_id IS NOT NEW.journal_id BEGIN {remove}; {add}; END",
    ]


def postgresql_apply(target, changes):
    """plpgsql that adds `changes` (rows of target id, n) to `target`'s counts."""
    return f"""
        PERFORM 1 FROM {target} WHERE id IN (SELECT target FROM ({changes}) c)
            ORDER BY id FOR UPDATE;
        UPDATE {target} t SET article_count = t.article_count + c.n
            FROM ({changes}) c WHERE t.id = c.target AND c.n <> 0;"""


def postgresql_triggers(table, function, body):
    return [
        f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN {body}\n    RETURN NULL; END $$",
        *(
            f"CREATE TRIGGER {function}_{event.lower()} AFTER {event} ON {table}"
            f" REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            # A trigger with transition tables may only have one event.
            for event, tables in [
                ("INSERT", "NEW TABLE AS new_rows"),
                ("DELETE", "OLD TABLE AS old_rows"),
                ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
            ]
        ),
    ]


def postgresql_link_triggers(link, column, target):
    def pairs(rows, sign, condition):
        return (
            f"SELECT p.{column} AS target, {sign}count(DISTINCT p.article_id) AS n"
            f" FROM {rows} p WHERE {condition} GROUP BY p.{column}"
        )

    def linked(*, besides=""):
        return (
            f"EXISTS (SELECT 1 FROM {link} l WHERE l.{column} = p.{column}"
            f" AND l.article_id = p.article_id{besides})"
        )

    # A pair (article, keyword) counts when its first row comes or its last goes.
    first = f"NOT {linked(besides=' AND l.id NOT IN (SELECT id FROM new_rows)')}"
    last = f"NOT {linked()}"
    was_there = (
        f"EXISTS (SELECT 1 FROM old_rows o WHERE o.{column} = p.{column}"
        " AND o.article_id = p.article_id)"
    )
    body = f"""
    IF TG_OP = 'INSERT' THEN {postgresql_apply(target, pairs("new_rows", "", first))}
    ELSIF TG_OP = 'DELETE' THEN {postgresql_apply(target, pairs("old_rows", "-", last))}
    ELSE {postgresql_apply(target, pairs("old_rows", "-", last))}
        {postgresql_apply(target, pairs("new_rows", "", f"{first} AND NOT {was_there}"))}
    END IF;"""
    return postgresql_triggers(link, f"{link}_count", body)


def postgresql_journal_triggers():
    def journals(rows, sign):
        return (
            f"SELECT journal_id AS target, {sign}count(*) AS n FROM {rows}"
            " WHERE journal_id IS NOT NULL GROUP BY journal_id"
        )

    moved = "(SELECT o.journal_id AS was, m.journal_id AS now FROM old_rows o JOIN new_rows m"
    moved += " USING (id) WHERE o.journal_id IS DISTINCT FROM m.journal_id)"

    def apply(changes):
        return postgresql_apply("catalogue_journal", changes)

    leaving = f"(SELECT was AS journal_id FROM {moved} x) r"
    arriving = f"(SELECT now AS journal_id FROM {moved} x) r"
    body = f"""
    IF TG_OP = 'INSERT' THEN {apply(journals("new_rows", ""))}
    ELSIF TG_OP = 'DELETE' THEN {apply(journals("old_rows", "-"))}
    ELSE {apply(journals(leaving, "-"))}
        {apply(journals(arriving, ""))}
    END IF;"""
    return postgresql_triggers("catalogue_article", "catalogue_article_journal_count", body)


def recount():
    """Set every count from the links, one statement per table."""
    statements = [
        f"UPDATE {target} SET article_count = (SELECT count(DISTINCT article_id) FROM {link}"
        f" WHERE {link}.{column} = {target}.id)"
        for link, column, target in LINKS
    ]
    statements.append(
        "UPDATE catalogue_journal SET article_count = (SELECT count(*) FROM catalogue_article"
        " WHERE catalogue_article.journal_id = catalogue_journal.id)"
    )
    return statements


def create_triggers_and_count(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        statements = [s for link in LINKS for s in sqlite_link_triggers(*link)]
        statements += sqlite_journal_triggers()
    elif vendor == "postgresql":
        statements = [s for link in LINKS for s in postgresql_link_triggers(*link)]
        statements += postgresql_journal_triggers()
    else:
        raise NotImplementedError(f"article counts need triggers written for {vendor}")
    for statement in statements + recount():
        schema_editor.execute(statement, params=None)


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    tables = [link for link, _, _ in LINKS]
    if vendor == "sqlite":
        for name in [f"{t}_count_{e}" for t in tables for e in ("insert", "delete", "update")]:
            schema_editor.execute(f"DROP TRIGGER {name}")
        for event in ("insert", "delete", "update"):
            schema_editor.execute(f"DROP TRIGGER catalogue_article_journal_count_{event}")
    else:
        for function, table in [(f"{t}_count", t) for t in tables] + [
            ("catalogue_article_journal_count", "catalogue_article")
        ]:
            for event in ("insert", "delete", "update"):
                schema_editor.execute(f"DROP TRIGGER {function}_{event} ON {table}")
            schema_editor.execute(f"DROP FUNCTION {function}()")


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0009_backfill_cited_by"),
    ]

    operations = [
        migrations.AddField(
            model_name="author",
            name="article_count",
            field=models.PositiveIntegerField(default=0, editable=False, verbose_name="articles"),
        ),
        migrations.AddField(
            model_name="journal",
            name="article_count",
            field=models.PositiveIntegerField(default=0, editable=False, verbose_name="articles"),
        ),
        migrations.AddField(
            model_name="keyword",
            name="article_count",
            field=models.PositiveIntegerField(default=0, editable=False, verbose_name="articles"),
        ),
        migrations.RunPython(create_triggers_and_count, drop_triggers),
        migrations.AddIndex(
            model_name="author",
            index=models.Index(
                models.OrderBy(models.F("article_count"), descending=True),
                models.F("normalised"),
                name="author_most_articles",
            ),
        ),
        migrations.AddIndex(
            model_name="journal",
            index=models.Index(
                models.OrderBy(models.F("article_count"), descending=True),
                models.F("normalised"),
                name="journal_most_articles",
            ),
        ),
        migrations.AddIndex(
            model_name="keyword",
            index=models.Index(
                models.OrderBy(models.F("article_count"), descending=True),
                models.F("normalised"),
                name="keyword_most_articles",
            ),
        ),
    ]
