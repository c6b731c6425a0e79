"""The catalogue's pages: plain function views over the models."""

from __future__ import annotations

import dataclasses
import string

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from catalogue import facet_index
from catalogue.browse import YearChart, profile
from catalogue.exporters import article_to_bibtex, articles_to_bibtex
from catalogue.facets import Counter, build_facets, without
from catalogue.filters import SORTS, ArticleFilter
from catalogue.models import Article, Author, Journal, Keyword
from catalogue.paging import SortedArticles
from catalogue.suggest import completions, did_you_mean, nearest_slug

INDEX_PAGE_SIZE = 100
# The index pages' A–Z; "#" for names that start with anything else.
LETTERS = [*string.ascii_uppercase, "#"]


def _page(request: HttpRequest, items: QuerySet | SortedArticles, size: int) -> Page:
    return Paginator(items, size).get_page(request.GET.get("page"))


def _active_filters(filterset: ArticleFilter) -> list[tuple[str, str]]:
    """(label, query string without it) for every filter in use."""
    params = filterset.data
    data = filterset.form.cleaned_data if filterset.is_valid() else {}
    names: dict[str, dict[str, str]] = {}
    # Only for filters in use: even a query that is never run costs time to build.
    if keywords := data.get("keyword"):
        names["keyword"] = dict(
            Keyword.objects.filter(slug__in=keywords).values_list("slug", "name")
        )
    if journals := data.get("journal"):
        names["journal"] = dict(
            Journal.objects.filter(slug__in=journals).values_list("slug", "name")
        )
    if authors := data.get("author"):
        names["author"] = {a.slug: a.sort_name for a in Author.objects.filter(slug__in=authors)}
    active = []
    for name in names:
        for slug in data[name]:
            remaining = without(params)
            remaining.setlist(name, [s for s in params.getlist(name) if s != slug])
            active.append(
                (f"{name.capitalize()}: {names[name].get(slug, slug)}", remaining.urlencode())
            )
    for name, label in (
        ("q", "Search"),
        ("year_min", "From"),
        ("year_max", "To"),
        ("type", "Type"),
    ):
        if data.get(name) not in (None, ""):
            value = data[name]
            shown = int(value) if name.startswith("year") else value
            active.append((f"{label}: {shown}", without(params, name).urlencode()))
    return active


@require_GET
def article_list(request: HttpRequest) -> HttpResponse:
    filterset = ArticleFilter(request.GET, queryset=Article.objects.all())
    counter = Counter(request.GET)
    filterset.broad_search = counter.broad_search()
    sort = filterset.effective_sort
    articles = SortedArticles(
        filterset.qs, sort=sort, order=filterset.ordered, **counter.members(sort=sort)
    )
    page = _page(request, articles, settings.CATALOGUE_PAGE_SIZE)
    facets = build_facets(request.GET, counter)
    # The year facet is shown as a chart of the results per year.
    years = next(f for f in facets if f.name == "year")
    urls = {int(v.value): f"?{v.url}" for v in years.values}
    year_chart = YearChart.from_counts(((int(v.value), v.count) for v in years.values), urls.get)
    return render(
        request,
        "catalogue/article_list.html",
        {
            "filterset": filterset,
            "page": page,
            "facets": facets,
            "year_chart": year_chart,
            "suggestions": _suggestions(request, filterset) if not page.paginator.count else [],
            # For highlighting: only what a valid form let through was searched.
            "search_query": filterset.form.cleaned_data.get("q", "")
            if filterset.is_valid()
            else "",
            "active_filters": _active_filters(filterset),
            "query_string": without(request.GET).urlencode(),
            "export_query": without(request.GET).urlencode(),
        },
        status=200 if filterset.is_valid() else 400,
    )


@require_GET
def export_bibtex(request: HttpRequest) -> HttpResponse:
    """Every article matching the list's filters, not just one page, as .bib."""
    filterset = ArticleFilter(request.GET, queryset=Article.objects.for_detail())
    articles = filterset.qs.iterator(chunk_size=500)
    response = StreamingHttpResponse(
        articles_to_bibtex(articles), content_type="application/x-bibtex; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="catalogue.bib"'
    return response


@require_GET
def article_detail(request: HttpRequest, pk: int) -> HttpResponse:
    article = get_object_or_404(Article.objects.for_detail(), pk=pk)
    return render(
        request,
        "catalogue/article_detail.html",
        {"article": article, "bibtex": article_to_bibtex(article)},
    )


@require_GET
def article_bibtex(request: HttpRequest, pk: int) -> HttpResponse:
    article = get_object_or_404(Article.objects.for_detail(), pk=pk)
    response = HttpResponse(
        article_to_bibtex(article), content_type="application/x-bibtex; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{article.pk}.bib"'
    return response


def _index(
    request: HttpRequest, queryset: QuerySet, template: str, name_field: str
) -> HttpResponse:
    """An index of keywords, journals or authors with article counts."""
    contains = request.GET.get("contains", "").strip()[:100]
    letter = request.GET.get("letter", "")
    items = queryset
    if contains:
        items = items.filter(**{f"{name_field}__icontains": contains})
    # By the folded name, so that Ørsted is under O and Łódź under L.
    if letter in LETTERS[:-1]:
        items = items.filter(normalised__startswith=letter.lower())
    elif letter == LETTERS[-1]:
        items = items.exclude(normalised__regex=r"^[a-z]")
    else:
        letter = ""
    order = request.GET.get("order")
    # The folded, lower-case form: sorts alike on SQLite and PostgreSQL, and
    # the index on it (and on the count) serves the sort at any size.
    items = (
        items.order_by("-article_count", "normalised")
        if order == "count"
        else items.order_by("normalised")
    )
    return render(
        request,
        template,
        {
            "page": _page(request, items, INDEX_PAGE_SIZE),
            "contains": contains,
            "order": order,
            "letter": letter,
            "all_letters_query": without(request.GET, "letter").urlencode(),
            "letters": [(c, _letter_query(request, c)) for c in LETTERS],
            "index_query": without(request.GET).urlencode(),
        },
    )


def _letter_query(request: HttpRequest, letter: str) -> str:
    params = without(request.GET, "letter")
    params["letter"] = letter
    return params.urlencode()


def _suggestions(request: HttpRequest, filterset: ArticleFilter) -> list[tuple[str, str]]:
    """For a search that found nothing: (what to try instead, its query string)."""
    if not filterset.is_valid():
        return []
    found = []
    if (q := filterset.form.cleaned_data.get("q")) and (better := did_you_mean(q)):
        params = without(request.GET)
        params["q"] = better
        found.append((better, params.urlencode()))
    for name, model in (("keyword", Keyword), ("journal", Journal), ("author", Author)):
        for slug in filterset.form.cleaned_data.get(name) or []:
            if model.objects.filter(slug=slug).exists():
                continue
            if (nearest := nearest_slug(model, slug)) is not None:
                params = without(request.GET)
                params.setlist(
                    name, [nearest.slug if s == slug else s for s in params.getlist(name)]
                )
                found.append((f"{model._meta.verbose_name} “{nearest}”", params.urlencode()))
    return found


@require_GET
def suggest(request: HttpRequest) -> JsonResponse:
    """Names that complete what is typed in the search box (for suggest.js)."""
    return JsonResponse(
        {"results": [dataclasses.asdict(c) for c in completions(request.GET.get("q", ""))]}
    )


def _articles_of(
    request: HttpRequest,
    template: str,
    context: dict,
    articles: QuerySet[Article],
    *,
    filter_name: str,
    row: Keyword | Journal | Author,
) -> HttpResponse:
    """A keyword's, journal's or author's page: its articles, per year, and what goes with it."""
    index = facet_index.current()
    members = None if index is None else index.articles_of(filter_name, row.pk)
    sorted_articles = SortedArticles(
        articles.order_by(*SORTS["newest"]),
        sort="newest",
        members=members,
        out_of=0 if index is None else len(index.all),
        order=lambda queryset: queryset.order_by(*SORTS["newest"]),
    )
    context["page"] = _page(request, sorted_articles, settings.CATALOGUE_PAGE_SIZE)
    context["profile"] = profile(
        articles.values("pk"),
        list_params=urlencode({filter_name: row.slug}),
        index=index,
        leave_out={filter_name: row},
    )
    return render(request, template, context)


@require_GET
def keyword_list(request: HttpRequest) -> HttpResponse:
    return _index(request, Keyword.objects.all(), "catalogue/keyword_list.html", "name")


@require_GET
def keyword_detail(request: HttpRequest, slug: str) -> HttpResponse:
    keyword = get_object_or_404(Keyword, slug=slug)
    return _articles_of(
        request,
        "catalogue/keyword_detail.html",
        {"keyword": keyword},
        Article.objects.filter(pk__in=keyword.article_keywords.values("article")),
        filter_name="keyword",
        row=keyword,
    )


@require_GET
def journal_list(request: HttpRequest) -> HttpResponse:
    return _index(request, Journal.objects.all(), "catalogue/journal_list.html", "name")


@require_GET
def journal_detail(request: HttpRequest, slug: str) -> HttpResponse:
    journal = get_object_or_404(Journal, slug=slug)
    return _articles_of(
        request,
        "catalogue/journal_detail.html",
        {"journal": journal},
        journal.articles.all(),
        filter_name="journal",
        row=journal,
    )


@require_GET
def author_list(request: HttpRequest) -> HttpResponse:
    return _index(request, Author.objects.all(), "catalogue/author_list.html", "family")


@require_GET
def author_detail(request: HttpRequest, slug: str) -> HttpResponse:
    author = get_object_or_404(Author, slug=slug)
    return _articles_of(
        request,
        "catalogue/author_detail.html",
        {"author": author},
        author.articles.all(),
        filter_name="author",
        row=author,
    )


@require_GET
def health(request: HttpRequest) -> HttpResponse:
    """For load balancers: answers only if the database does."""
    Article.objects.exists()
    return HttpResponse("ok", content_type="text/plain")
