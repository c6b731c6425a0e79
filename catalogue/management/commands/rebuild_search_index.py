"""Rebuild the full-text index of every article (see catalogue/search.py).

Imports and the admin keep the index in step by themselves; this is for
articles changed some other way (the shell, raw SQL, a restored backup).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from catalogue import search
from catalogue.models import Article


class Command(BaseCommand):
    help = "Rebuild the full-text search index of every article."

    def handle(self, *args: Any, **options: Any) -> None:
        ids = Article.objects.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=5000)
        count = search.reindex(ids)
        self.stdout.write(f"Indexed {count:,} articles.")
