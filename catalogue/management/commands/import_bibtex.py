"""`manage.py import_bibtex FILE...`: import BibTeX files from the shell.

`--dry-run` reads the files and says what importing them would do, writing
nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalogue.bibtex import UnreadableFile
from catalogue.importer import Preview, import_file, preview_file
from catalogue.management.progress import ProgressBar
from catalogue.models import ImportBatch


class Command(BaseCommand):
    help = "Import BibTeX files into the catalogue, updating what it already holds."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
        parser.add_argument(
            "--no-progress", action="store_true", help="Do not draw a progress bar."
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only say what importing would create, update and refuse; write nothing.",
        )

    def handle(
        self, *args: Any, files: list[Path], no_progress: bool, dry_run: bool, **options: Any
    ) -> None:
        unreadable = []
        for path in files:
            try:
                # Opened here, read in chunks by the importer: files of any
                # size import in bounded memory.
                source = path.open("rb")
            except OSError as error:
                unreadable.append(f"{path}: {error.strerror or error}")
                self.stderr.write(
                    self.style.ERROR(f"{path}: cannot read: {error.strerror or error}")
                )
                continue
            with (
                source,
                ProgressBar(
                    total=0, unit=" entries", desc=path.name, disable=no_progress, file=self.stderr
                ) as bar,
            ):

                def progress(done: int, total: int) -> None:
                    bar.total = total
                    bar.update(done - bar.n)

                try:
                    if dry_run:
                        preview = preview_file(source, progress=progress)
                    else:
                        batch = ImportBatch(source_name=path.name)
                        import_file(source, batch=batch, progress=progress)
                except UnreadableFile as error:
                    unreadable.append(f"{path}: {error}")
                    self.stderr.write(self.style.ERROR(f"{path}: {error}"))
                    continue
            if dry_run:
                self.show_preview(path, preview)
                continue
            self.stdout.write(
                f"{path}: {batch.created_count} created, {batch.updated_count} updated, "
                f"{batch.unchanged_count} unchanged, {batch.failed_count} failed "
                f"(import batch {batch.pk})"
            )
            for problem in batch.problems:
                style = self.style.ERROR if problem["severity"] == "error" else self.style.WARNING
                where = f"line {problem['line']}" if problem["line"] else "file"
                key = f" ({problem['key']})" if problem["key"] else ""
                self.stdout.write(
                    style(f"  {problem['severity']}: {where}{key}: {problem['message']}")
                )
            for unlisted, kind in (
                (batch.unlisted_errors, "error"),
                (batch.unlisted_warnings, "warning"),
            ):
                if unlisted:
                    plural = "" if unlisted == 1 else "s"
                    self.stdout.write(f"  … and {unlisted} more {kind}{plural}, not listed")
        if unreadable:
            raise CommandError(
                f"{len(unreadable)} file(s) could not be read: " + "; ".join(unreadable)
            )

    def show_preview(self, path: Path, preview: Preview) -> None:
        self.stdout.write(
            f"{path}: would create {preview.new}, update {preview.updated}, "
            f"leave {preview.unchanged} unchanged; {preview.duplicate_count} possible "
            f"duplicate(s), {preview.failure_count} failed (dry run: nothing was written)"
        )
        for update in preview.updates:
            fields = ", ".join(update["changes"]) or "authors or keywords"
            self.stdout.write(
                f"  update: line {update['line']} ({update['key']}): article "
                f"{update['article']}: {fields}"
            )
        for duplicate in preview.duplicates:
            reason = duplicate["reason"]
            if duplicate["article"]:
                reason += f" as article {duplicate['article']}"
            elif f"line {duplicate['other_line']}" not in reason:  # some reasons name it
                reason += f" as line {duplicate['other_line']}"
            self.stdout.write(
                self.style.WARNING(
                    f"  possible duplicate: line {duplicate['line']} ({duplicate['key']}): {reason}"
                )
            )
        for problem in [*preview.failures, *preview.warnings]:
            style = self.style.ERROR if problem["severity"] == "error" else self.style.WARNING
            where = f"line {problem['line']}" if problem["line"] else "file"
            key = f" ({problem['key']})" if problem["key"] else ""
            self.stdout.write(style(f"  {problem['severity']}: {where}{key}: {problem['message']}"))
        if preview.truncated:
            self.stdout.write("  (lists cut short; the counts are exact)")
