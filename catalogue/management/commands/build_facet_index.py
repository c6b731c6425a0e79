"""Build the facet index now (see catalogue/facet_index.py).

The web pages ask the background worker for a build whenever they find the
index out of date; this is for running one by hand: after loading a large
catalogue, or where no worker runs.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from catalogue import facet_index


class Command(BaseCommand):
    help = "Build the bitmaps that facet counts are read from."

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        index = facet_index.build()
        if index is None:
            raise CommandError("The catalogue changed during the build; run it again.")
        held = sum(len(values) for values in index.values.values())
        self.stdout.write(
            f"Facet index of {len(index.all):,} articles at version {index.version}:"
            f" {held:,} values in {time.perf_counter() - started:.1f} s."
        )
