"""The four groups every installation has: Viewers, Importers, Curators, Administrators.

Each group holds everything the one before it may do, so a user needs to be
in one group only. Running this again (or on a database where `load_demo`
made an "Importers" group before) adds what is missing and removes nothing,
so permissions an operator gave a group by hand stay.

The definitions are written out here, not imported from the app, so that the
migration does the same thing whatever the code looks like later.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CATALOGUE = ("article", "author", "keyword", "journal")
# Edited as inlines of an article: the admin checks their own permissions.
ARTICLE_PARTS = ("authorship", "articlekeyword")

VIEWERS = [f"catalogue.view_{model}" for model in CATALOGUE]
IMPORTERS = [*VIEWERS, "catalogue.import_bibtex"]
CURATORS = [
    *IMPORTERS,
    *(
        f"catalogue.{action}_{model}"
        for model in (*CATALOGUE, *ARTICLE_PARTS)
        for action in ("add", "change", "delete", "view")
    ),
    "catalogue.view_importbatch",
    "catalogue.undo_importbatch",
]
GROUPS = {"Viewers": VIEWERS, "Importers": IMPORTERS, "Curators": CURATORS}
# Every permission there is: users, groups, the catalogue, background jobs.
ADMINISTRATORS = "Administrators"


def _create_all_permissions(apps, using):
    """Permissions are normally made after `migrate`; the groups need them now."""
    for app_config in apps.get_app_configs():
        # create_permissions skips app configs without a models module, which
        # the migration's historical app configs never have.
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, using=using, apps=apps)
        app_config.models_module = None


def create_groups(apps, schema_editor):
    using = schema_editor.connection.alias
    _create_all_permissions(apps, using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = Permission.objects.using(using).select_related("content_type")
    by_name = {f"{p.content_type.app_label}.{p.codename}": p for p in permissions}
    for name, wanted in GROUPS.items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.add(*(by_name[p] for p in wanted))
    administrators, _ = Group.objects.using(using).get_or_create(name=ADMINISTRATORS)
    administrators.permissions.add(*by_name.values())


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0010_article_counts"),
        # Administrators get these apps' permissions too.
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("sessions", "0001_initial"),
        ("django_tasks_database", "0021_conditional_partial_index_ordering"),
    ]

    # Undoing the migration leaves the groups: users may have been put in them.
    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
