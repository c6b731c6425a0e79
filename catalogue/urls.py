from django.contrib import admin
from django.urls import include, path

from catalogue import import_views, views

catalogue_patterns = [
    path("", views.article_list, name="article-list"),
    path("export.bib", views.export_bibtex, name="export-bibtex"),
    path("articles/<int:pk>/", views.article_detail, name="article-detail"),
    path("articles/<int:pk>/bibtex/", views.article_bibtex, name="article-bibtex"),
    path("keywords/", views.keyword_list, name="keyword-list"),
    path("keywords/<slug:slug>/", views.keyword_detail, name="keyword-detail"),
    path("journals/", views.journal_list, name="journal-list"),
    path("journals/<slug:slug>/", views.journal_detail, name="journal-detail"),
    path("authors/", views.author_list, name="author-list"),
    path("authors/<slug:slug>/", views.author_detail, name="author-detail"),
    path("upload/", import_views.upload, name="upload"),
    path("imports/", import_views.import_list, name="import-list"),
    path("imports/<int:pk>/", import_views.import_batch_detail, name="import-batch-detail"),
    path("imports/<int:pk>/progress.json", import_views.import_progress, name="import-progress"),
    path("imports/<int:pk>/import/", import_views.import_start, name="import-start"),
    path("imports/<int:pk>/resume/", import_views.import_resume, name="import-resume"),
    path("imports/<int:pk>/cancel/", import_views.import_cancel, name="import-cancel"),
    path("imports/<int:pk>/undo/", import_views.import_undo, name="import-undo"),
    path("suggest.json", views.suggest, name="suggest"),
    path("health/", views.health, name="health"),
]

urlpatterns = [
    path("", include((catalogue_patterns, "catalogue"))),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
