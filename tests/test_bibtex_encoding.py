"""Bytes of an uploaded file to text (catalogue.bibtex.encoding)."""

from __future__ import annotations

import codecs

import pytest

from catalogue.bibtex import UnreadableFile, decode_bytes

TEXT = "@article{k, title={Café “quoted” – Société}}"


def test_utf8_is_read() -> None:
    assert decode_bytes(TEXT.encode("utf-8")) == TEXT


def test_utf8_bom_is_dropped() -> None:
    assert decode_bytes(codecs.BOM_UTF8 + TEXT.encode("utf-8")) == TEXT


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom_is_read(codec: str) -> None:
    bom = codecs.BOM_UTF16_LE if codec.endswith("le") else codecs.BOM_UTF16_BE
    assert decode_bytes(bom + TEXT.encode(codec)) == TEXT


def test_latin1_is_read() -> None:
    assert decode_bytes("title={Müller, Société}".encode("latin-1")) == "title={Müller, Société}"


def test_cp1252_smart_quotes_are_read() -> None:
    data = b"title={\x93quoted\x94 \x96 it\x92s}"
    assert decode_bytes(data) == "title={“quoted” – it’s}"


def test_bytes_undefined_in_cp1252_fall_back_to_latin1() -> None:
    assert decode_bytes(b"a\x81b \xe9") == "a\x81b é"


@pytest.mark.parametrize(
    ("data", "word"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
        (b"PK\x03\x04\x14\x00\x06\x00", "ZIP"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "PNG"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG"),
        (b"GIF89a\x01\x00", "GIF"),
        (b"ab\x00\x00cd\x00\x00" * 100, "binary"),
    ],
)
def test_binary_files_are_rejected_with_a_reason(data: bytes, word: str) -> None:
    with pytest.raises(UnreadableFile, match=word):
        decode_bytes(data)


@pytest.mark.parametrize("data", [b"", b"  \n\t ", codecs.BOM_UTF16_LE])
def test_empty_file_is_rejected(data: bytes) -> None:
    with pytest.raises(UnreadableFile, match="empty"):
        decode_bytes(data)
