"""Reading a BibTeX file of any size in bounded memory.

`iter_bibtex` reads the file two or three times, a block of bytes at a time:

1. a survey: the encoding (UTF-8 is checked to the end; a file that is not
   valid UTF-8 is read as Windows-1252 throughout), the keys that some entry
   names as its crossref parent, and the keys used more than once. Binary and
   empty files are refused here, before anything is yielded.
2. the reading proper: the decoded text is cut between entries into chunks
   of a few MB, and each chunk goes to the reader (`reader._Reader`), which
   carries `@string` macros, crossref parents and repeated keys from one
   chunk to the next.
3. only if more than `WAITING_LIMIT` children wait for crossref parents
   further on, the parents, read ahead (`_read_parents`).

`read_bibtex(text)` runs the same machinery over text already in memory.

>>> import io
>>> items = list(iter_bibtex(io.BytesIO(b"@book{k, title = {T}}")))
>>> [(r.key, r.line, r.title) for r in items]
[('k', 1, 'T')]
"""

from __future__ import annotations

import codecs
import gc
import os
import re
import tempfile
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import AnyStr, BinaryIO

from .encoding import _NUL_LIMIT, UnreadableFile, refuse_binary
from .limits import DEFAULT_LIMITS, Limits
from .reader import (
    _BRACE,
    _CUT_MARK,
    _ENTRY_HEAD,
    _FAILED_KEY,
    Skip,
    _Entry,
    _Reader,
    clean_key,
)
from .records import Known, ParseResult, Problem, Record

Source = str | os.PathLike[str] | BinaryIO

# Bytes read at a time.
BLOCK_BYTES = 1 << 20
# Children kept waiting in memory for crossref parents further on, at most:
# beyond this many, the parents are read ahead (`_read_parents`). A child
# takes a few KB.
WAITING_LIMIT = 2_000
# Characters of whole entries handed to the splitter at a time. A chunk is cut
# at the last entry start after this many characters have come in, so chunks
# are 2 to 3 MB; one holding a bigger entry is as big as that entry.
CHUNK_CHARS = 2_000_000
# Beyond this, a chunk with no clean place to cut (an unclosed brace upsets
# the brace count) is cut at any `@type{key,` line, as the splitter would.
_FORCE_CHUNK_CHARS = 8_000_000
# While an entry bigger than a chunk comes in, look for its end every so often.
_RETRY_CHARS = 4_000_000

# A line starting with `@` (after spaces): where an entry may start.
_LINE_AT = re.compile(r"\n[^\S\n]*@")
# Entry heads and crossref values, for the survey; neither crosses a line.
_HEAD = re.compile(
    r"\n[^\S\n]*@[^\S\n]*(?![sS][tT][rR][iI][nN][gG]|[cC][oO][mM][mM][eE][nN][tT]"
    r"|[pP][rR][eE][aA][mM][bB][lL][eE])\w+[^\S\n]*[{(]([^,{}\"=\n]*)"
)
_CROSSREF = re.compile(
    r"[cC][rR][oO][sS][sS][rR][eE][fF][^\S\n]*=[^\S\n]*[{\"]*[^\S\n]*([^,{}\"\s]+)"
)
# For count_entries: entry starts, not @string, @comment or @preamble.
_COUNT = re.compile(
    rb"\n[ \t]*@[ \t]*(?![sS][tT][rR][iI][nN][gG]|[cC][oO][mM][mM][eE][nN][tT]"
    rb"|[pP][rR][eE][aA][mM][bB][lL][eE])\w"
)
_COUNT_TEXT = re.compile(_COUNT.pattern.decode("ascii"))


@dataclass(frozen=True)
class _Survey:
    encoding: str  # for codecs.getincrementaldecoder
    errors: str
    targets: frozenset[str]  # case-folded keys named in a crossref
    repeated: frozenset[int]  # hashes of case-folded keys used more than once
    problem: Problem | None = None  # about the whole file


@contextmanager
def _opened(source: Source) -> Iterator[tuple[BinaryIO, int]]:
    if isinstance(source, str | os.PathLike):
        with Path(source).open("rb") as file:
            yield file, 0
    else:
        yield source, source.tell()


def _blocks(file: BinaryIO, start: int) -> Iterator[bytes]:
    """The file's bytes from `start`, a block at a time.

    Each read seeks first, so that two of these can take turns on one file
    (`_read` reads parents ahead in the middle of the reading proper).
    """
    position = start
    while True:
        file.seek(position)
        block = file.read(BLOCK_BYTES)
        if not block:
            return
        position += len(block)
        yield block


def _encoding_of(head: bytes) -> tuple[str, str]:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", "replace"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", "replace"  # the BOM picks the byte order and is dropped
    refuse_binary(head)
    return "utf-8", "strict"


def _decoded(blocks: Iterable[bytes], encoding: str, errors: str) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder(encoding)(errors)
    for block in blocks:
        if text := decoder.decode(block):
            yield text
    if text := decoder.decode(b"", final=True):
        yield text


class _Surveyor:
    """Collects crossref targets and repeated keys from text pieces, line by line.

    Every key's hash is kept (8 bytes each) to find those used more than
    once. Up to `HASHES_IN_MEMORY` of them stay in memory; then they go to
    temporary files, each hash to one of `SHARES` by its top bits, so that a
    file of any size is counted one share at a time (a key's copies all go
    to the same share). A million keys stay in memory; ten million would
    otherwise have taken 80 MB, and 128 more for the bitmap of `repeated`.
    """

    HASHES_IN_MEMORY = 1 << 20
    SHARES = 16  # the top 4 bits of a hash

    def __init__(self) -> None:
        self.tail = "\n"  # the text after the last newline, read with the next piece
        self.targets: set[str] = set()
        # A set of a million Python ints would take 70 MB: an array, 8 MB.
        self.hashes = array("q")
        self.shares: list[BinaryIO] = []
        self.has_text = False

    def feed(self, piece: str, *, final: bool = False) -> None:
        text = self.tail + piece
        end = len(text) if final else text.rfind("\n")
        if end <= 0:
            self.tail = text
            return
        self.tail = text[end:]
        lines = text[:end]
        if not self.has_text and not lines.isspace():
            self.has_text = True
        self._find_crossrefs(lines)
        self.hashes.extend(
            hash(clean_key(match.group(1)).casefold()) for match in _HEAD.finditer(lines)
        )
        if len(self.hashes) >= self.HASHES_IN_MEMORY:
            self._set_aside()

    def _find_crossrefs(self, text: str) -> None:
        """Add the keys that `crossref` fields in `text` name, the field in any letter case.

        Lines holding "crossref" are found in the text's UTF-8 lower-cased as
        ASCII (the field name is ASCII), then read with `_CROSSREF`: that
        regular expression run over all the text took longer than the rest
        of the survey (2.7 s of a 290 MB file's 4.3).
        """
        encoded = text.encode("utf-8", "surrogatepass")
        lowered = encoded.lower()
        at = lowered.find(b"crossref")
        while at >= 0:
            start = lowered.rfind(b"\n", 0, at) + 1
            end = lowered.find(b"\n", at)
            end = len(lowered) if end < 0 else end
            line = encoded[start:end].decode("utf-8", "surrogatepass")
            self.targets.update(match.group(1).casefold() for match in _CROSSREF.finditer(line))
            at = lowered.find(b"crossref", end)

    def _set_aside(self) -> None:
        """Append the hashes in memory to the temporary files, each to its share's."""
        if not self.shares:
            # Closed by `repeated`; if the survey fails first, with the surveyor.
            self.shares = [tempfile.TemporaryFile() for _ in range(self.SHARES)]  # noqa: SIM115
        shares = [array("q") for _ in range(self.SHARES)]
        for key_hash in self.hashes:
            shares[(key_hash >> 60) & (self.SHARES - 1)].append(key_hash)
        for share, file in zip(shares, self.shares, strict=True):
            share.tofile(file)
        self.hashes = array("q")

    def repeated(self) -> frozenset[int]:
        """Hashes of the keys used more than once (once all the text is fed)."""
        if not self.shares:
            return _repeated_among(self.hashes)
        self._set_aside()
        found: set[int] = set()
        for file in self.shares:
            with file:
                file.seek(0)
                share = array("q")
                share.frombytes(file.read())
            found |= _repeated_among(share)
        self.shares = []
        return frozenset(found)


def _repeated_among(hashes: array[int]) -> frozenset[int]:
    """The hashes that occur more than once in `hashes`.

    Sorting the hashes, or a set of them, would hold each as a Python int
    for a moment: 40 MB or more for a million keys, the reading process's
    peak. A bitmap of 64 bits a key (8 MB for a million) instead finds
    the hashes that may repeat, about one in 64 besides those that do,
    and only those are counted. The bitmap takes a hash's low bits, and
    `_Surveyor`'s shares its top bits.
    """
    bits = 1 << (64 * len(hashes)).bit_length()
    bitmap = bytearray(bits // 8 or 1)
    maybe = set()
    for key_hash in hashes:
        bit = key_hash & (bits - 1)
        if bitmap[bit >> 3] & (1 << (bit & 7)):
            maybe.add(key_hash)
        else:
            bitmap[bit >> 3] |= 1 << (bit & 7)
    del bitmap
    counts = Counter(key_hash for key_hash in hashes if key_hash in maybe)
    return frozenset(key_hash for key_hash, uses in counts.items() if uses > 1)


def _survey_text(pieces: Iterable[str]) -> _Surveyor:
    surveyor = _Surveyor()
    for piece in pieces:
        surveyor.feed(piece)
    surveyor.feed("", final=True)
    return surveyor


def _survey(file: BinaryIO, start: int) -> _Survey:
    file.seek(start)
    head = file.read(BLOCK_BYTES)
    if not head.strip():
        # Blank so far: the file is empty unless text comes later.
        rest = next((block for block in _blocks(file, start) if block.strip()), b"")
        if not rest:
            raise UnreadableFile("The file is empty.")
    encoding, errors = _encoding_of(head)
    problem = None
    nul_bytes = total = 0

    def counted(blocks: Iterable[bytes]) -> Iterator[bytes]:
        nonlocal nul_bytes, total
        for block in blocks:
            nul_bytes += block.count(b"\x00")
            total += len(block)
            yield block

    try:
        surveyor = _survey_text(_decoded(counted(_blocks(file, start)), encoding, errors))
    except UnicodeDecodeError as error:
        offset = total - len(error.object) + error.start
        file.seek(start)
        line = file.read(offset).count(b"\n") + 1
        problem = Problem(
            line=0,
            key="",
            message=f"The file is not valid UTF-8 (the first bad byte is on line {line});"
            " it was read as Windows-1252 (Western European) throughout.",
            severity="warning",
        )
        encoding, errors = "cp1252", "latin1fallback"
        surveyor = _survey_text(_decoded(_blocks(file, start), encoding, errors))
    if encoding != "utf-16" and nul_bytes > max(2, total * _NUL_LIMIT):
        raise UnreadableFile(
            "This looks like a binary file (it is full of NUL bytes), not a BibTeX text file."
        )
    if not surveyor.has_text:
        raise UnreadableFile("The file is empty.")
    return _Survey(
        encoding=encoding,
        errors=errors,
        targets=frozenset(surveyor.targets),
        repeated=surveyor.repeated(),
        problem=problem,
    )


def _depth_change(text: str, start: int, end: int) -> int:
    """Braces opened minus braces closed in text[start:end] (`\\{` does not count)."""
    change = text.count("{", start, end) - text.count("}", start, end)
    if text.find("\\", start, end) >= 0:
        change += text.count("\\}", start, end) - text.count("\\{", start, end)
    return change


class _Chunker:
    """Cuts a stream of text into chunks of whole entries, with their first line."""

    def __init__(self, limits: Limits, chunk_chars: int = CHUNK_CHARS) -> None:
        self.limits = limits
        self.chunk_chars = chunk_chars
        self.buffer = ""
        self.line = 0  # 0-based line where the buffer starts
        self.known = 0  # the brace depth of buffer[:known] is `depth`
        self.depth = 0
        self.skipping: Problem | None = None

    def chunks(self, pieces: Iterable[str]) -> Iterator[tuple[int, str] | Problem]:
        parts: list[str] = []
        size = len(self.buffer)
        next_try = self.chunk_chars
        for piece in pieces:
            if self.skipping is not None:
                piece = self._skip(piece)
                if self.skipping is not None:
                    continue
                size = 0
            parts.append(piece)
            size += len(piece)
            if size < next_try:
                continue
            self.buffer = "".join([self.buffer, *parts])
            parts = []
            while len(self.buffer) >= self.chunk_chars:
                cut = self._cut()
                if cut > 0:
                    yield self._take(cut)
                    continue
                if len(self.buffer) > self.limits.max_entry_chars:
                    yield self._start_skipping()
                break
            size = len(self.buffer)
            # Inside a big entry, join the pieces only every few MB, not per piece.
            next_try = self.chunk_chars
            if size >= self.chunk_chars:
                next_try = min(size + _RETRY_CHARS, self.limits.max_entry_chars + 1)
        if self.skipping is not None:
            return
        self.buffer = "".join([self.buffer, *parts])
        while len(self.buffer) >= self.chunk_chars and (cut := self._cut()) > 0:
            yield self._take(cut)
        if self.buffer:
            yield self._take(len(self.buffer))

    def _take(self, cut: int) -> tuple[int, str]:
        chunk, self.buffer = self.buffer[:cut], self.buffer[cut:]
        line, self.line = self.line, self.line + chunk.count("\n")
        self.known = self.depth = 0
        return line, chunk

    def _cut(self) -> int:
        """Where to cut the buffer: at an `@` starting a line outside braces, else 0."""
        buffer = self.buffer
        # Usually the last line starting with `@` is outside braces: try it first.
        near_end = list(_LINE_AT.finditer(buffer, max(self.known, len(buffer) - 65536)))
        last = near_end[-1] if near_end else None
        if last is not None:
            at = last.end() - 1
            if self.depth + _depth_change(buffer, self.known, at) <= 0:
                return at
        best = 0
        for match in _LINE_AT.finditer(buffer, self.known):
            at = match.end() - 1
            self.depth += _depth_change(buffer, self.known, at)
            self.known = at
            if self.depth <= 0:
                best = at
        if not best:
            # Nothing to cut at yet: remember the depth up to the last line
            # break, so that the next try only reads the text after it.
            last_line = max(buffer.rfind("\n"), self.known)
            self.depth += _depth_change(buffer, self.known, last_line)
            self.known = last_line
        if best or len(buffer) < _FORCE_CHUNK_CHARS:
            return best
        # The count is upset (an unclosed brace): cut where the splitter
        # would end the broken entry anyway, at a `@type{key,` line.
        for match in _ENTRY_HEAD.finditer(buffer, 1):
            best = match.start() + 1
        if not best and len(buffer) > self.limits.max_entry_chars:
            for match in _LINE_AT.finditer(buffer, 1):
                best = match.end() - 1
        return best

    def _start_skipping(self) -> Problem:
        match = _FAILED_KEY.match(self.buffer.lstrip())
        key = clean_key(match.group(1))[:80] if match else ""
        line = (
            self.line + 1 + self.buffer[: len(self.buffer) - len(self.buffer.lstrip())].count("\n")
        )
        self.skipping = Problem(
            line=line,
            key=key,
            message=f"This entry is longer than {self.limits.max_entry_chars:,} characters;"
            " it was skipped.",
        )
        self.line += self.buffer.count("\n")
        self.buffer = "\n" if self.buffer.endswith("\n") else ""
        return self.skipping

    def _skip(self, piece: str) -> str:
        """Drop text up to the next line starting with `@`; return the rest."""
        text = self.buffer + piece
        match = _LINE_AT.search(text)
        if match is None:
            self.line += piece.count("\n")
            self.buffer = "\n" if text.endswith("\n") else ""
            return ""
        at = match.end() - 1
        self.line += text.count("\n", 0, at) - self.buffer.count("\n")
        self.buffer = ""
        self.known = self.depth = 0
        self.skipping = None
        return text[at:]


def _braced(depth: int) -> str:
    """A pattern for a `{...}` group nested at most `depth` deep; `\\{` is no brace."""
    inner = (
        r"(?:[^{}\\]++|\\.)*+" if depth <= 1 else r"(?:[^{}\\]++|\\.|" + _braced(depth - 1) + ")*+"
    )
    return r"\{" + inner + r"\}"


# One value, matched in C without backtracking; deeper ones are walked brace by brace.
_VALUE = re.compile(_braced(12), re.DOTALL)


def _value_end(text: str, start: int) -> int:
    """Index after the `}` closing the `{` at `start`, or -1."""
    match = _VALUE.match(text, start)
    if match:
        return match.end()
    depth = 0
    for brace in _BRACE.finditer(text, start):
        depth += 1 if brace.group(0) == "{" else -1
        if depth == 0:
            return brace.end()
    return -1


def _cut_long_values(text: str, limit: int) -> tuple[str, tuple[tuple[int, int], ...]]:
    """Cut `{...}` values longer than `limit` before the splitter reads them.

    A 50 MB abstract costs the splitter seconds and much memory; cut here to
    `limit` characters plus a mark with the original length (the reader turns
    it into a warning). Returns the text and, per cut, its line in the new
    text and the newlines removed there, so that line numbers stay true.
    """
    pieces: list[str] = []
    cuts: list[tuple[int, int]] = []
    inside = False  # within an entry's own braces
    position = done = removed_lines = 0
    while (brace := _BRACE.search(text, position)) is not None:
        if brace.group(0) == "}":
            inside = False
            position = brace.end()
            continue
        if not inside:
            inside = True
            position = brace.end()
            continue
        end = _value_end(text, brace.start())
        if end < 0:
            break
        opened, closed = brace.end(), end - 1
        if closed - opened > limit:
            keep = opened + limit
            unclosed = _depth_change(text, opened, keep)
            pieces.append(text[done:keep])
            pieces.append(f"{_CUT_MARK}{closed - opened}{_CUT_MARK}" + "}" * unclosed)
            line = text.count("\n", 0, keep) - removed_lines
            newlines = text.count("\n", keep, closed)
            cuts.append((line, newlines))
            removed_lines += newlines
            done = closed
        position = end
    if not cuts:
        return text, ()
    pieces.append(text[done:])
    return "".join(pieces), tuple(cuts)


def _read(
    text: Callable[[], Iterable[str]], survey: _Survey, limits: Limits, skip: Skip | None = None
) -> Iterator[Record | Problem | Known]:
    """Read the text, which `text()` gives from its start each time it is called."""
    if survey.problem is not None:
        yield survey.problem
    reader = _Reader(limits=limits, targets=survey.targets, repeated=survey.repeated, skip=skip)
    read_ahead = False
    for items in _read_chunks(reader, text(), limits):
        yield from items
        if reader.waiting_count > WAITING_LIMIT and not read_ahead:
            read_ahead = True
            yield from reader.take_parents(_read_parents(text(), survey, limits))
    yield from reader.finish()


def _read_parents(pieces: Iterable[str], survey: _Survey, limits: Limits) -> dict[str, _Entry]:
    """The entries that crossref fields name, by case-folded key, with `@string`s applied.

    One more pass over the text, for files whose children would otherwise
    wait in memory for parents further on: BibTeX wants each parent after
    its children, and a DBLP-style file of 50,000 papers with their
    proceedings at the end took 320 MB. Only chunks that define a macro or
    hold a parent are split.
    """
    reader = _Reader(limits=limits, targets=survey.targets, parents_only=True)
    for _ in _read_chunks(reader, pieces, limits):
        pass  # only the parents are kept; the reading proper reports problems
    return reader.parents


def _read_chunks(
    reader: _Reader, pieces: Iterable[str], limits: Limits
) -> Iterator[list[Record | Problem | Known]]:
    """What `reader` makes of each chunk of the text in turn."""
    for chunk in _Chunker(limits).chunks(pieces):
        if isinstance(chunk, Problem):
            yield [chunk]
            continue
        line, text = chunk
        cuts: tuple[tuple[int, int], ...] = ()
        if len(text) > 2 * CHUNK_CHARS and len(text) > limits.max_value_chars:
            text, cuts = _cut_long_values(text, limits.max_value_chars)
        # The splitter makes many small objects and no cycles; the cyclic
        # garbage collector would only rescan them (about 10% of the time).
        collecting = gc.isenabled()
        gc.disable()
        try:
            items = reader.read_chunk(text, line, cuts)
        finally:
            if collecting:
                gc.enable()
        del text
        yield items


def iter_bibtex(
    source: Source, *, limits: Limits = DEFAULT_LIMITS, skip: Skip | None = None
) -> Iterator[Record | Problem | Known]:
    """Records and problems of a BibTeX file, in file order as far as possible.

    `source` is a path or a seekable binary file opened for reading (read
    from its current position). Memory stays bounded whatever the file's
    size: the file is read two or three times, a block at a time. A child
    entry whose crossref parent comes further on is yielded once the parent
    has been read, or read ahead (see the module's docstring).
    Raises `UnreadableFile` (before yielding anything) for an empty or
    binary file. `skip`, given a chunk's fingerprints, returns those the
    caller already holds: those entries come out as `Known`, not decoded.

    >>> import io
    >>> data = b"@string{acm = {ACM}}\\n@book{k, publisher = acm}"
    >>> [(r.key, r.line, r.publisher) for r in iter_bibtex(io.BytesIO(data))]
    [('k', 2, 'ACM')]
    """
    with _opened(source) as (file, start):
        survey = _survey(file, start)

        def text() -> Iterator[str]:
            return _decoded(_blocks(file, start), survey.encoding, survey.errors)

        yield from _read(text, survey, limits, skip)


def count_entries(source: Source) -> int:
    """About how many entries the file holds (for progress bars), at hundreds of MB/s.

    Counts lines starting with `@` that do not start `@string`, `@comment` or
    `@preamble`. A file object is left where it was.

    >>> import io
    >>> count_entries(io.BytesIO(b"@string{a = {A}}\\n@book{k,}\\n  @ARTICLE{j,}\\n"))
    2
    """
    with _opened(source) as (file, start):
        try:
            file.seek(start)
            head = file.read(4)
            if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                # Rare: count in the decoded text instead of the bytes.
                pieces = _decoded(_blocks(file, start), "utf-16", "replace")
                return _count(pieces, _COUNT_TEXT, "\n")
            return _count(_blocks(file, start), _COUNT, b"\n")
        finally:
            file.seek(start)


def _count(pieces: Iterable[AnyStr], pattern: re.Pattern[AnyStr], newline: AnyStr) -> int:
    count = 0
    tail = newline
    for piece in pieces:
        data = tail + piece
        end = data.rfind(newline)
        if end < 0:  # no line break at all: keep only what a match needs
            tail = data[-256:]
            continue
        count += len(pattern.findall(data, 0, end + 1))
        tail = data[end:]
    return count + len(pattern.findall(tail + newline))


def read_bibtex(text: str, *, limits: Limits = DEFAULT_LIMITS) -> ParseResult:
    """Read BibTeX text into records and problems; a bad entry never stops the rest.

    >>> result = read_bibtex('@article{k1, title = "A {B}ig " # jan, year = 2020}')
    >>> result.records[0].title, result.records[0].year, result.problems
    ('A Big January', 2020, [])
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    step = CHUNK_CHARS // 2
    pieces = [text[i : i + step] for i in range(0, len(text), step)] if text else []
    surveyor = _survey_text(pieces)
    survey = _Survey(
        encoding="",
        errors="",
        targets=frozenset(surveyor.targets),
        repeated=surveyor.repeated(),
    )
    result = ParseResult()
    for item in _read(lambda: pieces, survey, limits):
        if isinstance(item, Record):
            result.records.append(item)
        else:
            result.problems.append(item)
    # Children of later crossref parents come out late; put them back in place.
    result.records.sort(key=lambda record: record.line)
    return result
