"""Turn the bytes of an uploaded file into text, or say why that is impossible."""

from __future__ import annotations

import codecs


class UnreadableFile(ValueError):  # noqa: N818 - the name says what the user hears
    """The bytes are not a BibTeX text file (empty, a PDF, an archive, an image...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Magic numbers of the files people upload by mistake instead of a .bib.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or a Word/Excel/OpenDocument file)"),
    (b"PK\x05\x06", "an empty ZIP archive"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Microsoft Office document"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
)

# A text file has essentially no NUL bytes; a few stray ones are cleaned later
# (with a warning) by the reader, many mean a binary file.
_NUL_LIMIT = 0.01


def _cp1252_or_latin1(data: bytes) -> str:
    # cp1252 leaves 0x81, 0x8D, 0x8F, 0x90 and 0x9D undefined; decode those as
    # Latin-1 (control characters the reader then removes) instead of failing.
    return data.decode("cp1252", errors="latin1fallback")


def _latin1_fallback(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    bad = error.object[error.start : error.end]
    return bytes(bad).decode("latin-1"), error.end


codecs.register_error("latin1fallback", _latin1_fallback)


def decode_bytes(data: bytes) -> str:
    """Decode a file's bytes: UTF-8 (BOM or not), UTF-16 with a BOM, else Windows-1252.

    >>> decode_bytes(b"\\xef\\xbb\\xbf@article{k, title={Caf\\xc3\\xa9}}")
    '@article{k, title={Café}}'
    >>> decode_bytes(b"title={Caf\\xe9}")
    'title={Café}'

    Raises `UnreadableFile` for an empty file or for binary content.
    """
    if not data or not data.strip():
        raise UnreadableFile("The file is empty.")
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # The "utf-16" codec reads the BOM to pick the byte order and drops it.
        text = data.decode("utf-16", errors="replace")
        if not text.strip():
            raise UnreadableFile("The file is empty.")
        return text
    refuse_binary(data)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return _cp1252_or_latin1(data)


def refuse_binary(head: bytes) -> None:
    """Raise `UnreadableFile` if `head` (a file's start) is plainly not text."""
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise UnreadableFile(f"This is {what}, not a BibTeX text file.")
    if head.count(b"\x00") > max(2, len(head) * _NUL_LIMIT):
        raise UnreadableFile(
            "This looks like a binary file (it is full of NUL bytes), not a BibTeX text file."
        )
