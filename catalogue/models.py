"""The catalogue's data: articles with ordered authors, keywords and journals.

Authors, keywords and journals each carry a `normalised` form that is unique:
it is what imports match on, so "Müller, J." and "Muller, J." are one author
and "Pain" and " pain " one keyword. Every article keeps the BibTeX it came
from and every field the catalogue has no column for, so nothing the source
said is lost.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import connection, models, transaction
from django.db.models import F, Prefetch, Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils.text import slugify

from catalogue.bibtex.identifiers import normalise_doi, normalise_issn
from catalogue.bibtex.keywords import normalise_keyword
from catalogue.bibtex.records import Person
from catalogue.bibtex.text import fold, normalise_person

SLUG_LENGTH = 200
# An import batch lists this many of its errors, and as many warnings; it counts all.
PROBLEMS_LISTED = 1_000


def unique_slugs(model: type[models.Model], texts: list[str]) -> list[str]:
    """Slugs for `texts`, unused by `model` and by each other: "pain", "pain-2".

    One indexed query for the whole list, and one more per slug already
    taken, so bulk imports stay fast.
    """
    bases = [slugify(fold(text))[:SLUG_LENGTH].strip("-") or "item" for text in texts]
    manager = model._default_manager
    taken = set(manager.filter(slug__in=set(bases)).values_list("slug", flat=True))
    for base in {b for b in bases if b in taken}:
        # "pain-2", "pain-3"... sort between "pain-" and "pain." ("." follows "-").
        taken.update(
            manager.filter(slug__gt=f"{base}-", slug__lt=f"{base}.").values_list("slug", flat=True)
        )
    slugs = []
    for base in bases:
        slug, n = base, 1
        while slug in taken:
            n += 1
            slug = f"{base}-{n}"
        taken.add(slug)
        slugs.append(slug)
    return slugs


# An arbitrary number that names the lock below among PostgreSQL's advisory locks.
CATALOGUE_WRITE_LOCK = 7_368_556_843_141_729


def lock_catalogue_writes() -> None:
    """Wait for, and hold to the end of the transaction, the right to decide
    what is new in the catalogue.

    An import chunk looks up which authors, keywords, journals, citation
    keys and DOIs exist, then inserts the rest with fresh slugs and keys.
    Two imports doing that at once on PostgreSQL would both find "Smith, J."
    missing and both insert it: one fails on a unique index, and its whole
    import is undone. SQLite's IMMEDIATE transactions already run writers
    one at a time; on PostgreSQL this does the same for import chunks,
    undos, and authors, keywords and journals added in the admin. Readers
    never wait for it. Call it inside `transaction.atomic()`.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CATALOGUE_WRITE_LOCK])


def validate_issn(value: str) -> None:
    if value and normalise_issn(value) != value:
        raise ValidationError("Enter an ISSN as 1234-567X with a valid check digit.")


class SluggedModel(models.Model):
    """A model with a unique `normalised` form, and a unique slug made from
    `slug_source()` on first save."""

    slug = models.SlugField(max_length=SLUG_LENGTH + 10, unique=True, editable=False)
    # The import that created the row, so that undoing it can remove the row
    # again once no article uses it.
    import_batch = models.ForeignKey(
        "ImportBatch", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # How many articles the row belongs to. Database triggers keep it
    # (migration 0010), whatever writes the links: imports, the admin, undo,
    # deletes. Facets and index pages read it instead of counting millions
    # of link rows per request.
    article_count = models.PositiveIntegerField("articles", default=0, editable=False)

    class Meta:
        abstract = True
        # Index pages sorted by count, and facets with no filter, read it in order.
        indexes = [
            models.Index(F("article_count").desc(), "normalised", name="%(class)s_most_articles")
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.normalise()
        if self.slug:
            super().save(*args, **kwargs)
            return
        with transaction.atomic():
            lock_catalogue_writes()
            [self.slug] = unique_slugs(type(self), [self.slug_source()])
            super().save(*args, **kwargs)

    def clean(self) -> None:
        # `normalised` is not on the admin form, so Django's own unique check
        # skips it; without this a rename onto an existing name would fail
        # with an IntegrityError instead of a message.
        self.normalise()
        twin = type(self)._default_manager.filter(normalised=self.normalised).exclude(pk=self.pk)
        if twin.exists():
            raise ValidationError(
                f"“{twin.get()}” already exists and would be the same "
                f"{self._meta.verbose_name}: edit that one instead."
            )

    def slug_source(self) -> str:
        raise NotImplementedError

    def normalised_form(self) -> str:
        raise NotImplementedError

    def normalise(self) -> None:
        """Set `normalised`, the unique form that imports match on.

        The importer calls this (and `unique_slugs`) itself before
        bulk_create, which bypasses save().
        """
        limit = self._meta.get_field("normalised").max_length
        self.normalised = self.normalised_form()[:limit]


class Journal(SluggedModel):
    name = models.CharField(max_length=500)
    normalised = models.CharField(max_length=500, unique=True, editable=False)
    abbreviation = models.CharField(max_length=200, blank=True)
    issn = models.CharField("ISSN", max_length=9, blank=True, validators=[validate_issn])
    publisher = models.CharField(max_length=500, blank=True)

    class Meta(SluggedModel.Meta):
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("catalogue:journal-detail", args=[self.slug])

    def slug_source(self) -> str:
        return self.name

    def normalised_form(self) -> str:
        return normalise_journal(self.name)


def normalise_journal(name: str) -> str:
    """ "J. Chem. Phys." and "J Chem Phys" are one journal."""
    return " ".join(fold(name).replace(".", " ").split())


class Author(SluggedModel):
    family = models.CharField("family name", max_length=300)
    given = models.CharField("given names", max_length=300, blank=True)
    prefix = models.CharField(
        max_length=100, blank=True, help_text="Particles such as “van der” or “de la”."
    )
    suffix = models.CharField(max_length=50, blank=True, help_text="Such as “Jr.” or “III”.")
    is_organisation = models.BooleanField(
        default=False, help_text="A corporate author, such as a committee or an agency."
    )
    normalised = models.CharField(max_length=700, unique=True, editable=False)

    class Meta(SluggedModel.Meta):
        ordering = ["family", "given"]

    def __str__(self) -> str:
        return self.sort_name

    def get_absolute_url(self) -> str:
        return reverse("catalogue:author-detail", args=[self.slug])

    @property
    def person(self) -> Person:
        return Person(
            family=self.family,
            given=self.given,
            prefix=self.prefix,
            suffix=self.suffix,
            is_organisation=self.is_organisation,
        )

    @property
    def display_name(self) -> str:
        return self.person.display_name

    @property
    def sort_name(self) -> str:
        """ "Berg, Jan van der" style, as reference lists sort."""
        family = " ".join(p for p in (self.prefix, self.family) if p)
        rest = ", ".join(p for p in (self.suffix, self.given) if p)
        return f"{family}, {rest}" if rest else family

    def slug_source(self) -> str:
        return self.display_name

    def normalised_form(self) -> str:
        return normalise_person(self.person)


class Keyword(SluggedModel):
    name = models.CharField(max_length=300)
    normalised = models.CharField(max_length=300, unique=True, editable=False)

    class Meta(SluggedModel.Meta):
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("catalogue:keyword-detail", args=[self.slug])

    def slug_source(self) -> str:
        return self.name

    def normalised_form(self) -> str:
        return normalise_keyword(self.name)


class ImportBatch(models.Model):
    """One import of one file: its job state, counts and every problem met.

    An upload goes pending -> previewing -> previewed; the user then imports
    (importing -> done) or cancels. The command line goes straight to
    importing. A finished batch can be undone.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "waiting to be read"
        PREVIEWING = "previewing", "reading for a preview"
        PREVIEWED = "previewed", "preview ready"
        QUEUED = "queued", "waiting to import"
        IMPORTING = "importing", "importing"
        DONE = "done", "imported"
        FAILED = "failed", "failed"
        CANCELLED = "cancelled", "cancelled"
        UNDONE = "undone", "undone"

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    source_name = models.CharField(max_length=300)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.DONE, db_index=True
    )
    # The uploaded file, kept until the batch is imported or cancelled.
    upload = models.FileField(upload_to="imports/%Y/%m/", blank=True)
    total_entries = models.PositiveIntegerField(default=0)
    processed_entries = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Set by the worker as it goes: a running job whose heartbeat stops has died.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    # What importing would do: see catalogue.importer.Preview.as_dict().
    preview = models.JSONField(null=True, blank=True)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)  # entries with an error
    warning_count = models.PositiveIntegerField(default=0)
    # The first PROBLEMS_LISTED errors and as many warnings, in file order:
    # [{"line": 12, "key": "smith2020", "message": "...", "severity": "error"}, ...]
    problems = models.JSONField(default=list, blank=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # What the undo kept, and why: [{"article": 3, "key": "...", "reason": "..."}].
    undo_report = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "import batches"
        permissions = [
            ("import_bibtex", "Can import BibTeX files"),
            ("undo_importbatch", "Can undo imports"),
        ]

    def __str__(self) -> str:
        return f"{self.source_name} ({self.created_at:%Y-%m-%d %H:%M})"

    def get_absolute_url(self) -> str:
        return reverse("catalogue:import-batch-detail", args=[self.pk])

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [p for p in self.problems if p.get("severity") == "error"]

    @property
    def warnings(self) -> list[dict[str, Any]]:
        return [p for p in self.problems if p.get("severity") != "error"]

    @property
    def unlisted_errors(self) -> int:
        return max(0, self.failed_count - len(self.errors))

    @property
    def unlisted_warnings(self) -> int:
        return max(0, self.warning_count - len(self.warnings))

    def add_problems(self, problems: list[dict[str, Any]]) -> None:
        """Count these problems, and list them while fewer than PROBLEMS_LISTED of their kind are.

        A file with a warning on each of a million entries would otherwise
        make a list that the import holds and writes again with every chunk.
        """
        listed = Counter(p.get("severity") == "error" for p in self.problems)
        kept = []
        for problem in problems:
            is_error = problem["severity"] == "error"
            if is_error:
                self.failed_count += 1
            else:
                self.warning_count += 1
            if listed[is_error] < PROBLEMS_LISTED:
                listed[is_error] += 1
                kept.append(problem)
        if kept:
            self.problems = [*self.problems, *kept]

    @property
    def is_running(self) -> bool:
        return self.status in {
            self.Status.PENDING,
            self.Status.PREVIEWING,
            self.Status.QUEUED,
            self.Status.IMPORTING,
        }


class ArticleChange(models.Model):
    """What one import did to one article, so that it can be undone."""

    class Action(models.TextChoices):
        CREATED = "created"
        UPDATED = "updated"

    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="changes")
    article = models.ForeignKey("Article", on_delete=models.CASCADE, related_name="changes")
    action = models.CharField(max_length=10, choices=Action.choices)
    # The line of the file's entry that did it: a later copy of that entry in
    # the same import is reported as one ("the same record as line 12").
    line = models.PositiveIntegerField(default=0)
    # For updates, the article's values before the import (columns, extra
    # fields, author and keyword ids), which undo restores.
    before = models.JSONField(null=True, blank=True)
    # A fingerprint of the values the import left: undo touches the article
    # only if it still matches, i.e. no one has edited it since.
    after = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["batch", "article"], name="one_change_per_batch"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.article_id} in batch {self.batch_id}"


class ArticleQuerySet(models.QuerySet["Article"]):
    def for_listing(self) -> ArticleQuerySet:
        """Everything a list of articles shows, in a fixed number of queries.

        Not the original entry: the biggest column, and sorting a deep page
        would carry it along for every row skipped.
        """
        return (
            self.defer("source_bibtex")
            .select_related("journal")
            .prefetch_related(
                Prefetch(
                    "authorships",
                    queryset=Authorship.objects.select_related("author").order_by("position"),
                )
            )
        )

    def for_detail(self) -> ArticleQuerySet:
        return (
            self.for_listing()
            .select_related("import_batch")
            .prefetch_related(
                Prefetch(
                    "article_keywords",
                    queryset=ArticleKeyword.objects.select_related("keyword").order_by(
                        "kind", Lower("keyword__name")
                    ),
                )
            )
        )


class Article(models.Model):
    citation_key = models.CharField(max_length=255, unique=True)
    # The key as the source wrote it: citation_key gets a suffix when two
    # different records share one, and imports match on this.
    source_key = models.CharField(max_length=255, blank=True, db_index=True, editable=False)
    entry_type = models.CharField(max_length=50, default="article")  # indexed with year
    title = models.TextField()
    abstract = models.TextField(blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True, db_index=True)
    month = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    volume = models.CharField(max_length=255, blank=True)
    number = models.CharField(max_length=255, blank=True)
    pages = models.CharField(max_length=255, blank=True)
    doi = models.CharField("DOI", max_length=255, blank=True)
    url = models.CharField("URL", max_length=2000, blank=True)
    publisher = models.CharField(max_length=500, blank=True)
    issn = models.CharField("ISSN", max_length=9, blank=True, validators=[validate_issn])
    language = models.CharField(max_length=100, blank=True)
    # How often the work has been cited, where the source says (Scopus's
    # note "cited By 12"); imports fill it from that note.
    cited_by = models.PositiveIntegerField("cited by", null=True, blank=True)
    journal = models.ForeignKey(  # indexed with year
        Journal,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="articles",
        db_index=False,
    )
    authors = models.ManyToManyField(Author, through="Authorship", related_name="articles")
    authors_et_al = models.BooleanField(
        "et al.", default=False, help_text="The source listed more authors than it named."
    )
    keywords = models.ManyToManyField(Keyword, through="ArticleKeyword", related_name="articles")
    # Every source field without a column of its own (note, affiliation,
    # funding_details, ...), lower-case names, decoded values.
    extra_fields = models.JSONField(default=dict, blank=True)
    source_bibtex = models.TextField("original entry", blank=True)
    # The reader's fingerprint of that entry: a re-import that finds it
    # unchanged skips the entry without decoding it, and leaves the article
    # (and any curation since) as it is.
    source_fingerprint = models.CharField(max_length=32, blank=True, db_index=True, editable=False)
    import_batch = models.ForeignKey(
        ImportBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="articles"
    )
    # "2021|filippiadis": year and first author's family name, folded. Articles
    # in one block are compared for likely duplicates (same or similar title).
    dedupe_block = models.CharField(max_length=320, blank=True, db_index=True, editable=False)
    # Searched through the full-text index of catalogue/search.py, which
    # `search.reindex` keeps; it is not a field.
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ArticleQuerySet.as_manager()

    class Meta:
        ordering = ["-year", "title"]
        constraints = [
            models.UniqueConstraint(fields=["doi"], condition=~Q(doi=""), name="unique_doi"),
        ]
        indexes = [
            models.Index(fields=["journal", "year"]),
            models.Index(fields=["entry_type", "year"]),
            models.Index(F("cited_by").desc(), "id", name="article_most_cited"),
            # The list's default order ("newest"): deep pages skip along it.
            models.Index(
                F("year").desc(),
                F("month").desc(),
                "title",
                "id",
                name="article_newest_first",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("catalogue:article-detail", args=[self.pk])

    def clean(self) -> None:
        self.doi = normalise_doi(self.doi) if self.doi else ""

    @property
    def ordered_authors(self) -> list[Author]:
        """Authors in source order; uses the prefetch of `for_listing()`."""
        return [a.author for a in self.authorships.all()]

    @property
    def booktitle(self) -> str:
        """The proceedings or book a chapter or paper appeared in, if any."""
        return str(self.extra_fields.get("booktitle", ""))

    @property
    def doi_url(self) -> str:
        return f"https://doi.org/{self.doi}" if self.doi else ""


class Authorship(models.Model):
    # No single-column indexes: the two below start with each of these, and
    # every index costs each of the millions of rows an import writes.
    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="authorships", db_index=False
    )
    author = models.ForeignKey(
        Author, on_delete=models.PROTECT, related_name="authorships", db_index=False
    )
    position = models.PositiveIntegerField(help_text="1 for the first author.")

    class Meta:
        ordering = ["article", "position"]
        # No unique (article, position): the admin saves reordered rows one
        # at a time, so swapping two authors would trip it half way (SQLite
        # has no deferred constraints). The importer and the admin both
        # renumber positions 1..n.
        indexes = [
            # With the author, counting the authors of a set of articles
            # (facets, co-authors) reads this index alone, not the table:
            # an author's 5,000 of a million articles, 30 ms rather than 48
            # in SQLite. An article's few authors are sorted by position.
            models.Index(fields=["article", "author", "position"]),
            models.Index(fields=["author", "article"]),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.author}"


class ArticleKeyword(models.Model):
    class Kind(models.TextChoices):
        AUTHOR = "author", "author keyword"
        INDEXED = "indexed", "indexing term"

    # Indexed by the unique constraint and the index below, which start with them.
    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="article_keywords", db_index=False
    )
    keyword = models.ForeignKey(
        Keyword, on_delete=models.PROTECT, related_name="article_keywords", db_index=False
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.AUTHOR)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["article", "keyword", "kind"], name="unique_article_keyword_kind"
            ),
        ]
        indexes = [models.Index(fields=["keyword", "article"])]

    def __str__(self) -> str:
        return f"{self.keyword} ({self.get_kind_display()})"


class CatalogueVersion(models.Model):
    """A number that database triggers raise whenever what facets count changes.

    That is: articles added or deleted, an article's year, type or journal,
    and its keyword and author links (migration 0012). `catalogue.facet_index`
    keeps its bitmaps with the number they were made at, and uses them only
    while it is still the number here.
    """

    number = models.BigIntegerField(default=0)
    # Raised by the triggers of migration 0013 on every other change that a
    # page shows: an article's title or abstract, author order, a renamed
    # keyword. With `number` it dates a cached page (`catalogue.page_cache`).
    edits = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.number}.{self.edits}"


class FacetBitmap(models.Model):
    """The articles of one facet value, as a serialised roaring bitmap (or, for
    facet "by_article", each article's values of the facet named in `value`).

    Written all at once by `catalogue.facet_index.build`, at one
    `CatalogueVersion` number, and read by every web process from here.
    """

    version = models.BigIntegerField()
    # Made anew by each build: a process holding bitmaps checks it, since a
    # version number can come round again (a restored backup).
    build = models.UUIDField()
    facet = models.CharField(max_length=10)  # all, year, type, journal, keyword, author, by_article
    value = models.CharField(max_length=50)  # the year, type, or id; "" for all
    # Every value of the facet with at least this many articles has a row.
    floor = models.PositiveIntegerField(default=0)
    articles = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["facet", "value"], name="one_bitmap_per_value")
        ]

    def __str__(self) -> str:
        return f"{self.facet} {self.value} at {self.version}"
