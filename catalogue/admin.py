"""The admin: data entry and curation for staff.

Every list selects its related rows up front, and every foreign key uses
autocomplete, so no admin page issues a query per row or loads a whole
table into a drop-down.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from catalogue import search
from catalogue.models import (
    Article,
    ArticleKeyword,
    Author,
    Authorship,
    ImportBatch,
    Journal,
    Keyword,
)


class PreloadedAutocompleteSelect(AutocompleteSelect):
    """An autocomplete that labels its chosen row from objects loaded once.

    The stock widget runs one query per inline row to show the chosen
    author or keyword; an article with 40 authors would cost 40 queries.
    """

    preloaded: dict[str, Any]

    def optgroups(self, name: str, value: list[Any], attr: Any = None) -> list[Any]:
        chosen = [str(v) for v in value if str(v) not in self.choices.field.empty_values]
        preloaded = getattr(self, "preloaded", {})
        if not all(v in preloaded for v in chosen):
            return super().optgroups(name, value, attr)
        options = [] if self.is_required else [self.create_option(name, "", "", False, 0)]
        for v in chosen:
            label = self.choices.field.label_from_instance(preloaded[v])
            options.append(self.create_option(name, v, label, True, len(options)))
        return [(None, options, 0)]


class PreloadedFormSet(BaseInlineFormSet):
    """Hands every row's autocomplete the related objects its queryset selected."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        name = self.preloaded_field  # type: ignore[attr-defined]
        preloaded = {
            str(getattr(form.instance, f"{name}_id")): getattr(form.instance, name)
            for form in self.initial_forms
        }
        for form in [*self.forms, self.empty_form]:
            form.fields[name].widget.widget.preloaded = preloaded


class PreloadedInline(admin.TabularInline):
    """A tabular inline whose one autocomplete field costs no query per row."""

    formset = PreloadedFormSet
    preloaded_field: str

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related(self.preloaded_field)

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        formset.preloaded_field = self.preloaded_field
        return formset

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == self.preloaded_field:
            kwargs["widget"] = PreloadedAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class AuthorshipInline(PreloadedInline):
    model = Authorship
    preloaded_field = "author"
    autocomplete_fields = ["author"]
    ordering = ["position"]
    extra = 1
    fields = ["position", "author"]


class ArticleKeywordInline(PreloadedInline):
    model = ArticleKeyword
    preloaded_field = "keyword"
    autocomplete_fields = ["keyword"]
    extra = 1
    fields = ["keyword", "kind"]


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["title", "first_author", "journal", "year", "entry_type", "updated_at"]
    list_select_related = ["journal"]
    list_filter = ["entry_type", "year", "import_batch"]
    show_facets = admin.ShowFacets.ALWAYS
    search_fields = ["title", "citation_key", "doi", "journal__name"]
    date_hierarchy = "created_at"
    autocomplete_fields = ["journal"]
    raw_id_fields = ["import_batch"]
    readonly_fields = ["created_at", "updated_at", "source_bibtex"]
    inlines = [AuthorshipInline, ArticleKeywordInline]
    fieldsets = [
        (None, {"fields": ["title", "entry_type", "citation_key", "authors_et_al"]}),
        (
            "Publication",
            {
                "fields": [
                    "journal",
                    "year",
                    "month",
                    "volume",
                    "number",
                    "pages",
                    "publisher",
                    "issn",
                ]
            },
        ),
        ("Identifiers and links", {"fields": ["doi", "url", "language"]}),
        ("Content", {"fields": ["abstract", "extra_fields"]}),
        (
            "Provenance",
            {
                "classes": ["collapse"],
                "fields": ["import_batch", "created_at", "updated_at", "source_bibtex"],
            },
        ),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Article]:
        # The first author for the list column, in one extra query per page.
        return super().get_queryset(request).for_listing()

    @admin.display(description="first author")
    def first_author(self, article: Article) -> str:
        authors = article.ordered_authors
        return str(authors[0]) if authors else "–"

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        article = form.instance
        # Positions typed in the inline may have gaps or ties: keep 1..n.
        authorships = list(article.authorships.order_by("position", "pk"))
        for position, authorship in enumerate(authorships, start=1):
            authorship.position = position
        Authorship.objects.bulk_update(authorships, ["position"])
        # Authors and keywords are saved after the article: index them too.
        search.reindex([article.pk])

    def save_model(self, request: HttpRequest, obj: Article, form: Any, change: bool) -> None:
        obj.clean()
        super().save_model(request, obj, form, change)


class CountedAdmin(admin.ModelAdmin):
    """Keywords, authors and journals: listed with how many articles each has."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change:
            # The articles' index holds the old name: searches must find the new one.
            search.reindex(obj.articles.values_list("pk", flat=True))


@admin.register(Author)
class AuthorAdmin(CountedAdmin):
    list_display = ["family", "given", "prefix", "suffix", "is_organisation", "article_count"]
    list_filter = ["is_organisation"]
    ordering = ["family", "given"]
    search_fields = ["family", "given", "normalised"]
    readonly_fields = ["slug", "normalised"]


@admin.register(Keyword)
class KeywordAdmin(CountedAdmin):
    list_display = ["name", "slug", "article_count"]
    ordering = ["name"]
    search_fields = ["name", "normalised"]
    readonly_fields = ["slug", "normalised"]


@admin.register(Journal)
class JournalAdmin(CountedAdmin):
    list_display = ["name", "abbreviation", "issn", "publisher", "article_count"]
    ordering = ["name"]
    search_fields = ["name", "abbreviation", "issn"]
    readonly_fields = ["slug", "normalised"]


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    """Import batches are a record of what happened: nobody edits them."""

    list_display = [
        "source_name",
        "status",
        "created_at",
        "created_by",
        "created_count",
        "updated_count",
        "unchanged_count",
        "failed_count",
    ]
    list_select_related = ["created_by"]
    list_filter = ["status", "created_at", "created_by"]
    show_facets = admin.ShowFacets.ALWAYS
    search_fields = ["source_name"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
