"""The index on an authorship's article also holds its author (see Authorship.Meta).

Counting the authors of a set of articles (facets, co-authors) then reads
the index alone. It replaces the (article, position) index rather than
joining it, so an import writes no more index entries than before.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0014_link_counts_by_index"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="authorship",
            index=models.Index(
                fields=["article", "author", "position"], name="catalogue_a_article_4a05bb_idx"
            ),
        ),
        migrations.RemoveIndex(
            model_name="authorship",
            name="catalogue_a_article_efeb66_idx",
        ),
    ]
