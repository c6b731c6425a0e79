"""LaTeX in values to Unicode (catalogue.bibtex.latex)."""

from __future__ import annotations

import time

import pytest

from catalogue.bibtex.latex import latex_to_unicode


@pytest.mark.parametrize(
    ("latex", "expected"),
    [
        (r"Caf{\'e}", "Café"),
        (r"Caf\'e", "Café"),
        (r"Caf\'{e}", "Café"),
        (r"M{\"u}ller", "Müller"),
        (r"M\"{u}ller", "Müller"),
        (r"Stra\ss e", "Straße"),
        (r"Stra{\ss}e", "Straße"),
        (r"Fran{\c c}ois", "François"),
        (r"Fran\c{c}ois", "François"),
        (r"Mart\'{\i}n", "Martín"),
        (r"Mart{\'\i}n", "Martín"),
        (r"\v{S}koda", "Škoda"),
        (r"Erd\H{o}s", "Erdős"),
        (r"Hand{\aa}", "Handå"),
        (r"{\O}rsted", "Ørsted"),
        (r"Pe\~na", "Peña"),
        (r"Przemys{\l}aw", "Przemysław"),
    ],
)
def test_accents_become_unicode_letters(latex: str, expected: str) -> None:
    assert latex_to_unicode(latex) == expected


@pytest.mark.parametrize(
    ("latex", "expected"),
    [
        (r"Smith \& Sons", "Smith & Sons"),
        (r"rose by 28.8\% in", "rose by 28.8% in"),
        (r"snake\_case", "snake_case"),
        (r"costs \$5", "costs $5"),
        (r"a \{literal\} brace", "a {literal} brace"),
    ],
)
def test_escaped_specials_become_the_character(latex: str, expected: str) -> None:
    assert latex_to_unicode(latex) == expected


def test_unescaped_percent_is_literal_not_a_comment() -> None:
    assert latex_to_unicode(r"{A} rise of 28.8% in {B}") == "A rise of 28.8% in B"


@pytest.mark.parametrize(
    ("latex", "expected"),
    [
        ("New~York", "New York"),
        (r"pages 1--2 {A}", "pages 1–2 A"),
        (r"yes---no {A}", "yes—no A"),
        (r"first\\second", "first second"),
    ],
)
def test_ties_dashes_and_line_breaks(latex: str, expected: str) -> None:
    assert latex_to_unicode(latex) == expected


@pytest.mark.parametrize(
    ("latex", "expected"),
    [
        ("{W}orld", "World"),
        ("{{DNA}} repair in {E}. coli", "DNA repair in E. coli"),
        ("{CORDIC} {II:} {A} New", "CORDIC II: A New"),
    ],
)
def test_protective_braces_are_removed(latex: str, expected: str) -> None:
    assert latex_to_unicode(latex) == expected


@pytest.mark.parametrize(
    ("latex", "expected"),
    [
        (r"$\alpha$-helix", "α-helix"),
        (r"$x^2$ growth", "x^2 growth"),
        (r"$\beta$ and $\gamma$", "β and γ"),
        (r"CO$_2$ levels", "CO_2 levels"),
        ("US$ 5", "US$ 5"),
    ],
)
def test_math_stays_readable(latex: str, expected: str) -> None:
    assert latex_to_unicode(latex) == expected


@pytest.mark.parametrize(
    ("latex", "expected"),
    [
        (r"{\TeX} and {\LaTeX}", "TeX and LaTeX"),
        (r"The \LaTeX{} Companion", "The LaTeX Companion"),
        (r"\emph{Nature} and {\em Science}", "Nature and Science"),
        (r"\textbf{bold} \textit{it}", "bold it"),
        (r"\noopsort{1973b}Title", "Title"),
        (r"\textdegree", "°"),
    ],
)
def test_known_commands_keep_their_text(latex: str, expected: str) -> None:
    assert latex_to_unicode(latex) == expected


@pytest.mark.parametrize(
    ("latex", "expected"),
    [
        (r"A \input{/etc/passwd} title", r"A \input{/etc/passwd} title"),
        (r"\immediate\write18{rm -rf /} gone", r"\immediate\write18{rm -rf /} gone"),
        (r"\def\x{y} text", r"\def\x{y} text"),
    ],
)
def test_file_and_shell_commands_stay_visible_as_written(latex: str, expected: str) -> None:
    assert latex_to_unicode(latex) == expected


def test_unknown_macro_keeps_its_name_rather_than_vanishing() -> None:
    assert latex_to_unicode(r"\Thanh") == "Thanh"


def test_unknown_macro_with_argument_keeps_the_argument() -> None:
    assert latex_to_unicode(r"\foo{bar} baz") == "bar baz"


@pytest.mark.parametrize("value", ["Plain title -- with dashes", "100 % sure", "a--b"])
def test_value_without_latex_comes_back_unchanged(value: str) -> None:
    assert latex_to_unicode(value) is value


def test_megabyte_value_without_latex_is_instant() -> None:
    value = "word " * 200_000
    started = time.perf_counter()
    assert latex_to_unicode(value) == value
    assert time.perf_counter() - started < 0.05


def test_megabyte_value_with_latex_is_linear() -> None:
    value = r"Caf{\'e} $\alpha$ \emph{x} {W}ord 5\% " * 25_000  # about 1 MB
    started = time.perf_counter()
    decoded = latex_to_unicode(value)
    assert time.perf_counter() - started < 3
    assert decoded.startswith("Café α x Word 5% Café")


def test_control_word_eats_the_space_before_a_letter_like_tex() -> None:
    assert latex_to_unicode(r"The {\TeX book}") == "The TeXbook"
