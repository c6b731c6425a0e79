"""Fill `Article.cited_by` for articles imported before it existed.

Imports set it from the Scopus note ("cited By 12"), but a re-import skips
entries it finds unchanged, so older articles would never get it.
"""

from django.db import migrations

from catalogue.bibtex.identifiers import citation_count


def backfill(apps, schema_editor):
    Article = apps.get_model("catalogue", "Article")
    noted = Article.objects.filter(extra_fields__has_key="note", cited_by__isnull=True)
    batch = []
    for article in noted.only("pk", "extra_fields").iterator(chunk_size=2000):
        count = citation_count(str(article.extra_fields.get("note", "")))
        if count is not None:
            article.cited_by = count
            batch.append(article)
        if len(batch) >= 2000:
            Article.objects.bulk_update(batch, ["cited_by"])
            batch = []
    Article.objects.bulk_update(batch, ["cited_by"])


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0008_article_cited_by"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
