"""Import batches count their warnings, and list only the first of their problems.

Batches imported before this listed every problem; their warnings are
counted from that list.
"""

from django.db import migrations, models


def count_listed_warnings(apps, schema_editor):
    ImportBatch = apps.get_model("catalogue", "ImportBatch")
    for batch in ImportBatch.objects.exclude(problems=[]).only("pk", "problems").iterator():
        warnings = sum(1 for p in batch.problems if p.get("severity") != "error")
        if warnings:
            ImportBatch.objects.filter(pk=batch.pk).update(warning_count=warnings)


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0017_links_counted_by_imports"),
    ]

    operations = [
        migrations.AddField(
            model_name="importbatch",
            name="warning_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(count_listed_warnings, migrations.RunPython.noop),
    ]
