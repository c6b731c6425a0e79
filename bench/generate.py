"""Write a large synthetic BibTeX file for benchmarks, one entry at a time.

    python bench/generate.py --entries 100000 --style mixed --seed 1 -o /tmp/100k.bib

Builds on `catalogue.demo` (its vocabularies, Zipf picks, names, DOIs and
entry layout) and adds what a benchmark needs to look like real files:

- `scopus`: entries as Scopus exports them: abstracts of 1,500-2,500
  characters, author initials, affiliations and a correspondence address,
  `author_keywords`, indexed `keywords` whose vocabularies (EMTREE drug
  terms, EMTREE medical terms, MeSH; or Engineering controlled and
  uncontrolled terms) are each joined by "; " and joined to each other by
  ", ", a `url` carrying the DOI as `%2f` after `&`, ISSN without a hyphen,
  `document_type`, `source = {Scopus}`, `note = {Cited by: N}`.
- `handwritten`: hand-kept entries: LaTeX accents (`M{\\"u}ller`), name
  particles, `{DNA}` braces, `@string` macros, month macros, `#`
  concatenation, and `@inproceedings` with a `crossref` to a
  `@proceedings` parent (written once, after its first child).
- `mixed`: about one in six hand-written, the rest Scopus, as the demo does.

Keywords, journals, authors and conferences are picked by Zipf's law. Memory
stays bounded by the sets of keys and DOIs already used (tens of bytes per
entry); the text goes straight to the file. Same seed, same file.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

if __package__ in (None, ""):  # run as a script: make `catalogue` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from catalogue.demo import (  # noqa: E402
    CONFERENCES,
    ENGINEERING,
    MEDICAL,
    SENTENCES,
    STRINGS,
    Field,
    _Generator,
    to_latex,
)

Style = Literal["scopus", "handwritten", "mixed"]
STYLES: tuple[Style, ...] = ("scopus", "handwritten", "mixed")
HANDWRITTEN_SHARE = 0.16  # as in catalogue.demo.generate_bibtex


def _terms(text: str) -> tuple[str, ...]:
    return tuple(" ".join(t.split()) for t in text.split(";") if t.strip())


INSTITUTIONS = _terms("""
    Department of Radiology, University Hospital of Larissa, Larissa, Greece;
    Department of Anesthesiology, Mayo Clinic, Rochester, MN, United States;
    Department of Interventional Radiology, Emory University School of Medicine, Atlanta, GA,
    United States; Department of Radiology, Charité - Universitätsmedizin Berlin, Berlin,
    Germany; School of Mechanical Engineering, Tsinghua University, Beijing, China;
    Department of Biomedical Engineering, National University of Singapore, Singapore;
    Institute of Robotics, ETH Zürich, Zürich, Switzerland; Department of Radiology, Seoul
    National University Hospital, Seoul, South Korea; Faculty of Engineering, University of
    Porto, Porto, Portugal; Department of Pain Medicine, Hospital Universitario La Paz,
    Madrid, Spain; Department of Electrical Engineering, Politecnico di Milano, Milan, Italy;
    School of Computer Science, University of Sydney, Sydney, NSW, Australia; Department of
    Orthopaedics, Karolinska Institutet, Stockholm, Sweden; Department of Radiology, Hôpital
    Européen Georges-Pompidou, Paris, France; College of Engineering, Zhejiang University,
    Hangzhou, China; Department of Mechanical Engineering, Indian Institute of Technology
    Bombay, Mumbai, India; Department of Anaesthesia, St James's Hospital, Dublin, Ireland;
    Department of Medical Physics, University of Toronto, Toronto, ON, Canada; Faculty of
    Medicine, University of São Paulo, São Paulo, Brazil; Graduate School of Engineering,
    The University of Tokyo, Tokyo, Japan; Department of Radiology, Leiden University
    Medical Center, Leiden, Netherlands; Department of Civil Engineering, Istanbul Technical
    University, Istanbul, Turkey; Department of Neurosurgery, Medical University of Vienna,
    Vienna, Austria; Department of Energy Technology, Aalborg University, Aalborg, Denmark;
    Department of Rehabilitation Medicine, Seoul National University, Seoul, South Korea
""")
# Scopus lists drug terms (EMTREE) before the other vocabularies.
EMTREE_DRUGS = _terms("""
    morphine; lidocaine; bupivacaine; ropivacaine; opiate; fentanyl; ketamine; gabapentin;
    pregabalin; dexamethasone; corticosteroid; triamcinolone; methylprednisolone; paracetamol;
    ibuprofen; nonsteroid antiinflammatory agent; oxycodone; tramadol; botulinum toxin A;
    contrast medium; gadolinium; iodinated contrast medium; hyaluronic acid; nitrous oxide
""")
FUNDERS = _terms("""
    National Natural Science Foundation of China, NSFC; National Institutes of Health, NIH;
    European Research Council, ERC; Deutsche Forschungsgemeinschaft, DFG; Horizon 2020
    Framework Programme, H2020; National Research Foundation of Korea, NRF; Japan Society
    for the Promotion of Science, JSPS; Engineering and Physical Sciences Research Council,
    EPSRC; Fundação para a Ciência e a Tecnologia, FCT; Agence Nationale de la Recherche, ANR
""")
# More abstract sentences, by the part of an abstract they belong to.
BACKGROUND = (
    "Over the past decade, the number of {subjects} eligible for {method} has grown steadily.",
    "{Task} accounts for a substantial share of healthcare and maintenance costs worldwide.",
    "Existing guidelines give little advice on {task}, and practice varies between centres.",
    "Reliable {task} is essential but often relies on subjective expert judgement.",
    "Several recent studies have reported conflicting results on {method} in {subjects}.",
)
METHODS = (
    "Inclusion criteria were defined a priori and applied by two independent reviewers.",
    "Baseline characteristics were recorded, including age, sex and relevant comorbidities.",
    "The primary outcome was {metric}; secondary outcomes included safety and cost.",
    "Hyperparameters were tuned by {k}-fold cross-validation on the training data only.",
    "Procedures were performed under local anaesthesia with image guidance in all cases.",
    "Measurements were repeated {k} times, and inter-observer agreement was assessed.",
    "Missing data were handled by multiple imputation with {k} imputed data sets.",
    "A sensitivity analysis excluded cases with incomplete follow-up of {k} months or less.",
    "Statistical significance was set at p < 0.05, and all tests were two-sided.",
)
RESULTS = (
    "Mean follow-up was {k}.{d} years, and {p}\\% of cases were lost to follow-up.",
    "{Metric} improved from {lo:.2f} at baseline to {x:.2f} at the last visit (p < 0.0{d}).",
    "Subgroup analysis showed a larger benefit in {subjects} than in the remaining cases.",
    "The mean processing time was {k}.{p} s per case on a standard workstation.",
    "Inter-observer agreement was good, with an intraclass correlation of {hi:.2f}.",
    "Adverse events were mild and resolved within {k} weeks without intervention.",
    "Compared with the baseline model, {method} reduced the error rate by {p}\\%.",
    "Results were consistent across the {k} centres and across years of acquisition.",
)
CONCLUSIONS = (
    "Larger multicentre studies with longer follow-up are needed before routine adoption.",
    "Code and anonymised data are available from the corresponding author on request.",
)
PROCEEDINGS_MACROS = {  # @string name -> conference, for the hand-written preamble
    f"conf{i}": name for i, name in enumerate(CONFERENCES, start=1)
}
EDITORS = (
    "de Bruijne, Marleen and Cattin, Philippe C. and Cotin, St{\\'e}phane",
    "Vedaldi, Andrea and Bischof, Horst and Brox, Thomas and Frahm, Jan-Michael",
    "M{\\\"u}ller, Henning and van Ginneken, Bram and Jos{\\'e} Rodr{\\'\\i}guez, Ana",
)


def _field(name: str, value: str | int) -> str:
    return f"  {name} = {{{value}}}"


class BenchGenerator(_Generator):
    """`catalogue.demo`'s generator, made to write entries as big and varied as real ones."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.proceedings_written: set[str] = set()
        # EMTREE (lower case) and MeSH or controlled (capitalised) terms per field.
        # Kept for good: Zipf caches its weights by the list's id().
        self.vocabularies = {
            id(field): (
                tuple(t for t in field[4] if t[0].islower()),
                tuple(t for t in field[4] if not t[0].islower()),
            )
            for field in (MEDICAL, ENGINEERING)
        }

    # -- Scopus -----------------------------------------------------------

    def abstract(self, words: dict[str, str], year: int, publisher: str) -> str:
        """1,500-2,500 characters: background, aim, methods, results, conclusion."""
        rng = self.rng
        target = int(rng.triangular(1500, 2500, 1900))
        parts = [
            [*SENTENCES[0], *BACKGROUND],
            list(SENTENCES[1]),
            [*SENTENCES[2], *METHODS],
            [*SENTENCES[3], *RESULTS],
        ]
        numbers = self.numbers(year, words["metric"])
        chosen: set[str] = set()
        size = 0
        sections: list[list[str]] = [[] for _ in parts]
        # One sentence for each part, then more methods and results until long enough.
        for attempt in range(40):
            if size >= target - 250:
                break
            part = attempt if attempt < 4 else rng.choice((0, 2, 2, 3, 3, 3))
            sentence = rng.choice(parts[part]).format(**words, **numbers)
            if sentence not in chosen:
                chosen.add(sentence)
                sections[part].append(sentence)
                size += len(sentence) + 1
        ending = [rng.choice(SENTENCES[4]).format(**words, **numbers)]
        if rng.random() < 0.5:
            ending.append(rng.choice(CONCLUSIONS))
        text = " ".join(s for section in sections for s in section)
        return f"{text} {' '.join(ending)} © {year} {publisher}"

    def keywords(self, field: Field) -> tuple[list[str], list[str]]:
        """Author keywords, and indexed keywords as Scopus writes them.

        Each vocabulary is a "; " list; Scopus joins the vocabularies with
        ", ", so the last term of one and the first of the next share a piece:
        "morphine; opiate, human; pain, Humans; Pain, Postoperative".
        """
        author, _ = super().keywords(field)
        pick, rng = self.pick, self.rng
        lower, upper = self.vocabularies[id(field)]
        if field is MEDICAL:
            groups = [
                [pick(EMTREE_DRUGS) for _ in range(rng.randint(0, 4))],
                [pick(lower) for _ in range(rng.randint(6, 22))],
                [pick(upper) for _ in range(rng.randint(0, 9))],
            ]
        else:  # Engineering controlled terms, then uncontrolled ones
            groups = [
                [pick(upper) for _ in range(rng.randint(4, 12))],
                [pick(field[3]) for _ in range(rng.randint(2, 8))],
            ]
        vocabularies = ["; ".join(dict.fromkeys(g)) for g in groups if g]
        return author, [", ".join(vocabularies)]

    def affiliations(self, count: int) -> str:
        places = dict.fromkeys(self.pick(INSTITUTIONS, 0.8) for _ in range(min(count, 6)))
        return "; ".join(places)

    def scopus_article(self) -> str:
        """The demo's Scopus entry, completed to look like a real export."""
        text = super().scopus_article()
        head, *lines = text.rstrip("\n").split("\n")[:-1]  # drop the closing brace
        fields = dict(line.strip().rstrip(",").split(" = ", 1) for line in lines)
        rng = self.rng
        doi = fields["doi"][1:-1]
        authors = fields["author"].count(" and ") + 1
        url = fields["url"][1:-1]
        eid, _, md5 = url.partition("&partnerID=40&md5=")
        fields["url"] = f"{{{eid}&doi={doi.replace('/', '%2f')}&partnerID=40&md5={md5}}}"
        fields["issn"] = fields["issn"].replace("-", "")
        out = [head]
        for name, value in fields.items():
            out.append(f"  {name} = {value}")
            if name == "url":
                out.append(_field("affiliations", self.affiliations(authors)))
            elif name == "keywords":
                first = fields["author"][1:-1].split(" and ")[0]
                email = f"{first.split(',')[0].lower().replace(' ', '')}@example.org"
                out.append(
                    _field(
                        "correspondence_address",
                        f"{first}; {self.pick(INSTITUTIONS, 0.8)}; email: {email}",
                    )
                )
                if rng.random() < 0.4:
                    funder = self.pick(FUNDERS)
                    out.append(_field("funding_details", f"{funder}, {rng.randrange(10**7)}"))
            elif name == "pages" and rng.random() < 0.3:
                out.append(_field("art_number", rng.randrange(100000, 999999)))
            elif name == "document_type":
                out.append(_field("publication_stage", "Final"))
        return head + "\n" + ",\n".join(out[1:]) + "\n}\n"

    # -- hand-written -------------------------------------------------------

    def handwritten(self) -> str:
        """The demo's hand-kept entry, sometimes with `#` or a crossref parent."""
        text = super().handwritten()
        rng = self.rng
        if text.startswith("@inproceedings") and rng.random() < 0.5:
            return self._with_crossref(text)
        if "  note = " not in text and rng.random() < 0.2:  # `#`: macros and strings
            macro = rng.choice(list(PROCEEDINGS_MACROS))
            note = f'  note = "Extended version of a paper at the " # {macro} # " (" # {{'
            note += f'{rng.randint(2005, 2024)}}} # ")"'
            text = text[: -len("\n}\n")] + ",\n" + note + "\n}\n"
        return text

    def _with_crossref(self, text: str) -> str:
        """Move booktitle, publisher and series into a `@proceedings` parent."""
        lines = text.split("\n")
        year = next(line for line in lines if line.strip().startswith("year ="))
        year_value = year.split("=", 1)[1].strip().strip(",")
        number = self.rng.randrange(1, len(CONFERENCES) + 1)
        macro = f"conf{number}"
        parent_key = f"{macro}:{year_value}"
        kept = [
            line
            for line in lines
            if not line.strip().startswith(("booktitle", "publisher", "series", "address"))
        ]
        body = "\n".join(kept).rstrip()
        assert body.endswith("}")
        body = body[:-1].rstrip().rstrip(",") + f",\n  crossref = {{{parent_key}}}\n}}\n"
        if parent_key in self.proceedings_written:
            return body
        self.proceedings_written.add(parent_key)
        editors = self.rng.choice(EDITORS)
        parent = "\n".join(
            [
                f"@proceedings{{{parent_key},",
                f'  title = "Proceedings of the " # {macro},',
                f'  booktitle = "Proceedings of the " # {macro},',
                f"  editor = {{{editors}}},",
                f"  year = {year_value},",
                "  publisher = {Springer},",
                "  address = {Cham},",
                "  series = lncs,",
                f"  volume = {{{self.rng.randint(10000, 15000)}}},",
                "}",
            ]
        )
        return body + "\n" + parent + "\n"


def preamble(style: Style) -> str:
    """What opens the file: Scopus's header, or the hand-kept `@string`s."""
    if style == "scopus":
        return "Scopus\nEXPORT DATE: 12 May 2025\n\n"
    macros = "".join(
        f'@string{{{name} = "{to_latex(conference)}"}}\n'
        for name, conference in PROCEEDINGS_MACROS.items()
    )
    return STRINGS + macros + "\n"


def generate(count: int, *, style: Style = "mixed", seed: int = 1) -> Iterator[str]:
    """Yield the file's text piece by piece: the preamble, then `count` entries.

    A hand-written entry with a new crossref parent yields both in one piece,
    so a file may hold a few more entries than `count` (the parents).
    """
    generator = BenchGenerator(seed)
    yield preamble(style)
    for _ in range(count):
        handwritten = style == "handwritten" or (
            style == "mixed" and generator.rng.random() < HANDWRITTEN_SHARE
        )
        text = generator.handwritten() if handwritten else generator.scopus_article()
        yield text + "\n"


def write_file(path: Path, count: int, *, style: Style = "mixed", seed: int = 1) -> int:
    """Write the file; return the number of entries in it (parents included)."""
    entries = 0
    with path.open("w", encoding="utf-8", newline="\n", buffering=1 << 20) as out:
        pieces = generate(count, style=style, seed=seed)
        out.write(next(pieces))  # the preamble
        for text in pieces:
            out.write(text)
            entries += 1 + text.count("\n@")  # a crossref parent follows its child
    return entries


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, required=True, help="how many entries")
    parser.add_argument("--style", choices=STYLES, default="mixed")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("-o", "--output", type=Path, required=True, help="file to write")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    entries = write_file(args.output, args.entries, style=args.style, seed=args.seed)
    seconds = time.perf_counter() - started
    size = args.output.stat().st_size
    print(
        f"{args.output}: {entries} entries, {size / 1e6:.1f} MB in {seconds:.1f} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
