"""LaTeX in BibTeX values to plain Unicode, fast and without losing text.

pylatexenc is thorough but slow (quadratic in the length of a value) and it
drops what it does not know (`{\\TeX}`, `\\input{...}`), and it takes `%` as a
comment. So the common forms are rewritten here with one linear regex pass,
and pylatexenc only ever sees the few small commands left over, one at a time.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from pylatexenc.latex2text import LatexNodes2Text

# A value without any of these characters has no LaTeX in it.
_SPECIAL = re.compile(r"[\\{}$~]")

# Accent commands and the combining mark each one puts on its letter.
_ACCENTS: dict[str, str] = {
    "`": "\u0300",
    "'": "\u0301",
    "^": "\u0302",
    "~": "\u0303",
    "=": "\u0304",
    "u": "\u0306",
    ".": "\u0307",
    '"': "\u0308",
    "r": "\u030a",
    "H": "\u030b",
    "v": "\u030c",
    "d": "\u0323",
    "c": "\u0327",
    "k": "\u0328",
    "b": "\u0331",
    "t": "\u0361",
}
# What an accent with an empty argument (`\'{}`, `\~{}`) stands for.
_BARE_ACCENTS: dict[str, str] = {"`": "`", "'": "'", "^": "^", "~": "~", '"': '"', "=": "¯"}

# Commands that stand for a character or a word. Letter-like ones eat the
# space that ends them when a letter follows (`Stra\ss e` is "Straße").
_LETTERS: dict[str, str] = {
    "ss": "ß",
    "SS": "SS",
    "o": "ø",
    "O": "Ø",
    "ae": "æ",
    "AE": "Æ",
    "oe": "œ",
    "OE": "Œ",
    "aa": "å",
    "AA": "Å",
    "l": "ł",
    "L": "Ł",
    "i": "ı",
    "j": "ȷ",
    "dj": "đ",
    "DJ": "Đ",
    "ng": "ŋ",
    "NG": "Ŋ",
    "th": "þ",
    "TH": "Þ",
    "dh": "ð",
    "DH": "Ð",
}
_WORDS: dict[str, str] = {
    "TeX": "TeX",
    "LaTeX": "LaTeX",
    "LaTeXe": "LaTeX2e",
    "BibTeX": "BibTeX",
    "XeTeX": "XeTeX",
    "LuaTeX": "LuaTeX",
    "ConTeXt": "ConTeXt",
    "AmS": "AMS",
    "ldots": "…",
    "dots": "…",
    "textellipsis": "…",
    "textendash": "–",
    "textemdash": "—",
    "textquoteleft": "‘",
    "textquoteright": "’",
    "textquotedblleft": "“",
    "textquotedblright": "”",
    "guillemotleft": "«",
    "guillemotright": "»",
    "textregistered": "®",
    "texttrademark": "™",
    "copyright": "©",
    "textcopyright": "©",
    "textdegree": "°",
    "textasciitilde": "~",
    "textasciicircum": "^",
    "textbackslash": "\\",
    "textbar": "|",
    "textless": "<",
    "textgreater": ">",
    "textunderscore": "_",
    "textbullet": "•",
    "textperiodcentered": "·",
    "textsection": "§",
    "S": "§",
    "P": "¶",
    "euro": "€",
    "texteuro": "€",
    "pounds": "£",
    "textsterling": "£",
    "dag": "†",
    "ddag": "‡",
    "textmu": "µ",
    "textpm": "±",
    "pm": "±",
    "times": "×",
    "cdot": "·",
    "le": "≤",
    "leq": "≤",
    "ge": "≥",
    "geq": "≥",
    "ne": "≠",
    "neq": "≠",
    "sim": "∼",
    "approx": "≈",
    "infty": "∞",
    "rightarrow": "→",
    "to": "→",
    "leftarrow": "←",
    "degree": "°",
    "circ": "°",
    "quad": " ",
    "qquad": " ",
    "enspace": " ",
    "space": " ",
    "newline": " ",
    "par": " ",
    "linebreak": " ",
    "break": " ",
}
_GREEK = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "varepsilon",
    "zeta",
    "eta",
    "theta",
    "vartheta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "pi",
    "varpi",
    "rho",
    "varrho",
    "sigma",
    "varsigma",
    "tau",
    "upsilon",
    "phi",
    "varphi",
    "chi",
    "psi",
    "omega",
    "Gamma",
    "Delta",
    "Theta",
    "Lambda",
    "Xi",
    "Pi",
    "Sigma",
    "Upsilon",
    "Phi",
    "Psi",
    "Omega",
]
_GREEK_CHARS = "αβγδϵεζηθϑικλμνξπϖρϱσςτυϕφχψωΓΔΘΛΞΠΣΥΦΨΩ"  # same order as _GREEK
_WORDS.update(zip(_GREEK, _GREEK_CHARS, strict=True))

# Commands that only style or wrap their argument: drop the command, keep
# the argument (its braces go with the other protective braces).
_WRAPPERS = frozenset(
    [
        "emph",
        "textit",
        "textbf",
        "textsc",
        "textrm",
        "textsf",
        "texttt",
        "textup",
        "textsl",
        "textmd",
        "textnormal",
        "mbox",
        "hbox",
        "text",
        "mathrm",
        "mathit",
        "mathbf",
        "mathsf",
        "mathtt",
        "mathcal",
        "mathbb",
        "mathnormal",
        "ensuremath",
        "uppercase",
        "lowercase",
        "MakeUppercase",
        "MakeLowercase",
        "textsuperscript",
        "textsubscript",
        "underline",
        "uline",
        "url",
        "href",
        "nolinkurl",
        "path",
        "it",
        "bf",
        "em",
        "sc",
        "rm",
        "sf",
        "tt",
        "sl",
        "up",
        "itshape",
        "bfseries",
        "scshape",
        "rmfamily",
        "sffamily",
        "ttfamily",
        "upshape",
        "slshape",
        "normalfont",
        "small",
        "large",
        "Large",
        "tiny",
        "footnotesize",
        "normalsize",
        "scriptsize",
        "huge",
        "Huge",
        "protect",
        "relax",
        "ignorespaces",
        "unskip",
        "nobreak",
        "allowbreak",
        "hyphenation",
        "selectlanguage",
        "foreignlanguage",
        "textenglish",
        "textgerman",
        "textfrench",
        "llap",
        "rlap",
        "clap",
        "smash",
    ]
)
# Commands whose argument is not text (sorting hints, spacing amounts).
_SWALLOWERS = frozenset(
    ["noopsort", "sortnoop", "SortNoop", "nocite", "label", "index", "hspace", "vspace", "phantom"]
)
# Commands followed by a TeX dimension (`\raise 0.5ex`), which is not text either.
_DIMENSIONED = frozenset(["raise", "lower", "kern", "hskip", "vskip", "mkern", "mskip"])
_DIMENSION = re.compile(
    r"\s*[-+]?\s*(?:\d+(?:\.\d*)?|\.\d+)\s*(?:ex|em|pt|mm|cm|in|bp|sp|pc|dd|cc|mu)"
)
# Commands that would read files, write files or run programs in real TeX.
# Nothing here is ever executed; they are kept visibly, as written, so the
# user sees what the file contained instead of a silently shortened value.
_DANGEROUS = frozenset(
    [
        "input",
        "include",
        "InputIfFileExists",
        "write",
        "immediate",
        "openout",
        "openin",
        "read",
        "readline",
        "def",
        "edef",
        "gdef",
        "xdef",
        "let",
        "newcommand",
        "renewcommand",
        "providecommand",
        "DeclareRobustCommand",
        "catcode",
        "csname",
        "endcsname",
        "expandafter",
        "usepackage",
        "documentclass",
        "special",
        "ShellEscape",
        "directlua",
        "loop",
        "iterate",
    ]
)

# Private-use stand-ins for characters that must survive brace removal.
_LBRACE, _RBRACE, _BACKSLASH, _DOLLAR = "\ue000", "\ue001", "\ue002", "\ue003"
_RESTORE = str.maketrans({_LBRACE: "{", _RBRACE: "}", _BACKSLASH: "\\", _DOLLAR: "$"})
_MARKER = re.compile(f"[{_LBRACE}{_RBRACE}{_BACKSLASH}{_DOLLAR}]")
_SIMPLE_ESCAPE = re.compile(r"\\([%&_#$])")
_PROTECT = str.maketrans({"{": _LBRACE, "}": _RBRACE, "\\": _BACKSLASH, "$": _DOLLAR})

_TOKEN = re.compile(
    r"""
      (?P<newline>\\\\(?:\[[^\]\n]*\])?)
    | \\(?P<acc_sym>[`'^~=".])\s*(?:\{\s*(?P<sym_arg>\\[ij](?![A-Za-z])|[^\\{}\s]?)\s*\}
                                   |(?P<sym_bare>\\[ij](?![A-Za-z])|[A-Za-z]))
    | \\(?P<acc_let>[uvHckrbdt])(?![A-Za-z])
          (?:\s*\{\s*(?P<let_arg>\\[ij](?![A-Za-z])|[^\\{}\s]?)\s*\}
            |\s+(?P<let_bare>\\[ij](?![A-Za-z])|[A-Za-z]))
    | \\(?P<cmd>write18|[A-Za-z]+)\*?
    | \\(?P<sym>.)
    | (?P<dash>-{2,3})
    | (?P<tilde>~)
    | (?P<math>\$)
    """,
    re.VERBOSE | re.DOTALL,
)
# Brace groups (one level of nesting) and optional [..] arguments after a command.
_ARGS = re.compile(r"(?:[ \t]*(?:\{(?:[^{}]|\{[^{}]*\})*\}|\[[^\]{}]*\]))+")
# What follows a dangerous command and is kept with it: `\def\x{y}`.
_DANGEROUS_TAIL = re.compile(
    r"(?:[ \t]*(?:\\[A-Za-z]+\d*\*?|\{(?:[^{}]|\{[^{}]*\})*\}|\[[^\]{}]*\]))*"
)
_ONE_ARG = re.compile(r"\s*\{(?:[^{}]|\{[^{}]*\})*\}")
_SPACES = re.compile(r"[ \t\n]+")
_UNESCAPED_DOLLAR = re.compile(r"(?<!\\)\$")

_CONTROL_SYMBOLS: dict[str, str] = {
    "&": "&",
    "%": "%",
    "_": "_",
    "#": "#",
    "$": _DOLLAR,
    "{": _LBRACE,
    "}": _RBRACE,
    " ": " ",
    "\t": " ",
    "\n": " ",
    ",": " ",
    ";": " ",
    ":": " ",
    ">": " ",
    "!": "",
    "/": "",
    "-": "",
    "@": "",
}


@lru_cache(maxsize=4096)
def _pylatexenc(fragment: str) -> str:
    """Convert one small leftover command (with its arguments) with pylatexenc."""
    # `%` would start a comment and swallow the rest of the fragment.
    safe = re.sub(r"(?<!\\)%", r"\\%", fragment)
    try:
        text = LatexNodes2Text(math_mode="text", strict_latex_spaces=True).latex_to_text(safe)
    except Exception:  # noqa: BLE001 - whatever went wrong, keep the text as written
        return fragment.translate(_PROTECT)
    if not text.strip():
        # pylatexenc knows nothing of it: keep the arguments or, failing that,
        # the command's name (`\Thanh` -> "Thanh") rather than drop text.
        name, _, rest = fragment[1:].partition("{")
        return rest.rstrip("}") if rest.strip("{} ") else name.rstrip("*[] ")
    return text


def _accent(mark: str, letter: str | None) -> str:
    if not letter:
        return _BARE_ACCENTS.get(mark, "")
    if letter in (r"\i", r"\j"):
        letter = letter[1]  # the dotless i of `\'{\i}` is a plain i in Unicode
    return unicodedata.normalize("NFC", letter + _ACCENTS[mark])


def _convert(value: str) -> str:
    """One left-to-right pass over `value`; linear in its length."""
    out: list[str] = []
    append = out.append
    pos = 0
    in_math = False
    search = _TOKEN.search
    while True:
        match = search(value, pos)
        if match is None:
            break
        append(value[pos : match.start()])
        pos = match.end()
        kind = match.lastgroup
        if kind == "cmd":
            name = match.group("cmd")
            if name in _LETTERS or name in _WORDS:
                append(_LETTERS.get(name) or _WORDS[name])
                # TeX ends a control word with the spaces after it: `Stra\ss e`
                # is "Straße", `{\TeX book}` is "TeXbook".
                spaces = _SPACES.match(value, pos)
                if spaces and value[spaces.end() : spaces.end() + 1].isalpha():
                    pos = spaces.end()
            elif name in _WRAPPERS:
                spaces = _SPACES.match(value, pos)
                if spaces:  # `{\em word}`: the space only ended the command
                    pos = spaces.end()
            elif name in _SWALLOWERS:
                arg = _ONE_ARG.match(value, pos)
                if arg:
                    pos = arg.end()
            elif name in _DIMENSIONED:
                dimension = _DIMENSION.match(value, pos)
                if dimension:
                    pos = dimension.end()
            elif name in _DANGEROUS or name == "write18":
                args = _DANGEROUS_TAIL.match(value, pos)
                end = args.end() if args else pos
                append(value[match.start() : end].translate(_PROTECT))
                pos = end
            else:
                args = _ARGS.match(value, pos)
                end = args.end() if args else pos
                append(_pylatexenc(value[match.start() : end]))
                pos = end
        elif kind in ("sym_arg", "sym_bare", "acc_sym"):
            append(
                _accent(match.group("acc_sym"), match.group("sym_arg") or match.group("sym_bare"))
            )
        elif kind in ("let_arg", "let_bare", "acc_let"):
            append(
                _accent(match.group("acc_let"), match.group("let_arg") or match.group("let_bare"))
            )
        elif kind == "newline":
            append(" ")  # `\\` is a line break; in a one-line display, a space
        elif kind == "sym":
            symbol = match.group("sym")
            append(_CONTROL_SYMBOLS.get(symbol, symbol))
        elif kind == "dash":
            append("–" if len(match.group("dash")) == 2 else "—")
        elif kind == "tilde":
            append(" ")  # a tie is a no-break space; a plain space displays better
        elif kind == "math":
            # Drop paired dollars and convert the formula like text: `$\alpha$`
            # is "α", `$x^2$` stays "x^2". A lone `$` ("US$ 5") stays.
            if in_math or _UNESCAPED_DOLLAR.search(value, pos):
                in_math = not in_math
            else:
                append("$")
    append(value[pos:])
    return "".join(out)


def latex_to_unicode(value: str) -> str:
    """Decode the LaTeX in a BibTeX value to plain Unicode text.

    >>> latex_to_unicode(r"Schr{\\"o}dinger's {W}orld, $\\alpha$-helix \\& 50\\% --- done")
    "Schrödinger's World, α-helix & 50% — done"

    A value without any of backslash, braces, `$` or `~` comes back unchanged
    (so a literal `--` outside LaTeX stays two hyphens). `%` is literal, not a
    comment; `{\\TeX}` is "TeX"; `\\input{x}` and `\\write18` are never run and
    stay visible as written. Whitespace is not collapsed here.
    """
    if not _SPECIAL.search(value):
        return value
    # Most Scopus abstracts hold LaTeX only as "50\%" or "R\&D": unescaping
    # is all they need, not a full conversion of a long value.
    unescaped = _SIMPLE_ESCAPE.sub(r"\1", value)
    if not _SPECIAL.search(unescaped):
        return unescaped
    text = _convert(value)
    # What braces remain only protected case or grouped text: drop them.
    if "{" in text or "}" in text:
        text = text.replace("{", "").replace("}", "")
    return text.translate(_RESTORE) if _MARKER.search(text) else text
