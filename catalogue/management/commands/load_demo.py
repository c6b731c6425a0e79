"""Fill a development catalogue with demo data and an admin account.

    ./manage.py load_demo --articles 3000

Imports the owner's seed record and `--articles` synthetic entries through
`import_bibtex()`, the path real uploads take, so running it twice adds
nothing. Every run gives the "admin" superuser a new password and prints it.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalogue.demo import generate_bibtex
from catalogue.importer import import_bibtex
from catalogue.management.progress import ProgressBar
from catalogue.models import ImportBatch

SEED_FILE = Path(__file__).resolve().parents[2] / "demo_data" / "seed.bib"
ADMIN_URL = "http://127.0.0.1:8000/admin/"
GROUPS = ("Viewers", "Importers", "Curators", "Administrators")


class Command(BaseCommand):
    help = "Import demo articles and (re)set the password of an 'admin' superuser."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--articles", type=int, default=3000, help="default: 3000")
        parser.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
        parser.add_argument(
            "--force", action="store_true", help="run even though DEBUG is off (not for production)"
        )

    def handle(self, *args: Any, articles: int, seed: int, force: bool, **options: Any) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "DEBUG is off, so this looks like production: load_demo would add demo data "
                "and reset the admin password. Use --force if you really mean it."
            )
        # The groups come from the 0011_groups migration: check they are there.
        groups = list(Group.objects.filter(name__in=GROUPS).values_list("name", flat=True))
        if missing := sorted(set(GROUPS) - set(groups)):
            raise CommandError(f"Group(s) {', '.join(missing)} missing: run manage.py migrate.")
        self._report(import_bibtex(SEED_FILE.read_bytes(), source_name="seed.bib"))

        text = "\n".join(generate_bibtex(articles, seed=seed))
        with ProgressBar(
            total=articles, desc="Importing demo entries", unit="entry", file=sys.stderr
        ) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            batch = import_bibtex(
                text, source_name=f"demo data ({articles} entries, seed {seed})", progress=progress
            )
        self._report(batch)

        password = secrets.token_urlsafe(12)
        admin, _ = get_user_model().objects.get_or_create(
            username="admin", defaults={"email": "admin@example.com"}
        )
        admin.is_staff = admin.is_superuser = admin.is_active = True
        admin.set_password(password)
        admin.save()
        self.stdout.write(
            self.style.SUCCESS(
                f"Sign in at {ADMIN_URL} as admin with password {password} "
                "(a new password is made each time load_demo runs)"
            )
        )
        self.stdout.write(
            f"Give other users a role by adding them to a group: {', '.join(GROUPS)}."
        )

    def _report(self, batch: ImportBatch) -> None:
        self.stdout.write(
            f"{batch.source_name}: {batch.created_count} created, {batch.updated_count} updated, "
            f"{batch.unchanged_count} unchanged, {batch.failed_count} failed"
        )
        for problem in batch.errors[:10]:
            self.stderr.write(f"  line {problem['line']} ({problem['key']}): {problem['message']}")
