from __future__ import annotations

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat


class UploadForm(forms.Form):
    """A BibTeX file, or BibTeX pasted as text: one of the two."""

    file = forms.FileField(
        required=False,
        label="BibTeX file",
        help_text="A .bib file from Scopus, Web of Science, Zotero, JabRef or by hand.",
        widget=forms.ClearableFileInput(attrs={"accept": ".bib,.bibtex,.txt,text/plain"}),
    )
    text = forms.CharField(
        required=False,
        label="Or paste BibTeX",
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false"}),
    )

    def clean_file(self) -> forms.Field | None:
        upload = self.cleaned_data.get("file")
        limit = settings.CATALOGUE_UPLOAD_MAX_BYTES
        if upload and upload.size > limit:
            raise forms.ValidationError(
                f"The file is {filesizeformat(upload.size)}; the limit is {filesizeformat(limit)}. "
                "Split it, or import it on the server with `manage.py import_bibtex`."
            )
        return upload

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        if not self.errors and not cleaned.get("file") and not cleaned.get("text", "").strip():
            raise forms.ValidationError("Choose a file or paste some BibTeX.")
        if cleaned.get("file") and cleaned.get("text", "").strip():
            raise forms.ValidationError("Give a file or pasted text, not both.")
        return cleaned

    def bibtex(self) -> tuple[bytes | str, str]:
        """The data to import and a name for the batch."""
        upload = self.cleaned_data.get("file")
        if upload:
            return upload.read(), upload.name
        return self.cleaned_data["text"], "pasted text"
