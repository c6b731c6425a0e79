"""Generate a large, realistic catalogue straight into the database.

    ./manage.py generate_catalogue 100000 --seed 1

For measuring search and browsing at 100,000 to 1,000,000 articles. The
BibTeX importer would take hours at that size, so this writes rows itself,
one transaction per batch: `executemany` INSERTs on SQLite, COPY on
PostgreSQL (see `insert_rows`). But every column is filled the way the
importer fills it (normalised forms, unique slugs from `unique_slugs()`,
`dedupe_block`, the entry as BibTeX, extra fields, and the full-text index
through `catalogue.search`, as imports write it), so pages, search, curation and
later imports treat the rows as imported ones.

The vocabularies (names, journals, keywords, words) and their rank order are
fixed; `--seed` drives everything drawn from them, so a seed and a count give
the same catalogue, whatever the batch size. The terms a benchmark needs are
listed in the command's help (`COMMON_TERMS`, `MEDIUM_TERM`, `RARE_TERMS`,
`MOST_COMMON_KEYWORD`, `BUSIEST_JOURNAL`, `MOST_PROLIFIC_AUTHOR`).
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import accumulate
from typing import Any

from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    DjangoHelpFormatter,
)
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.db.models import Max
from django.utils import timezone

from catalogue import demo
from catalogue.bibtex.identifiers import citation_count, normalise_doi, normalise_issn
from catalogue.bibtex.keywords import normalise_keyword
from catalogue.bibtex.records import Person
from catalogue.bibtex.text import fold, normalise_person
from catalogue.importer import dedupe_block, sqlite_pragmas
from catalogue.management.progress import ProgressBar
from catalogue.models import (
    Article,
    ArticleKeyword,
    Author,
    Authorship,
    Journal,
    Keyword,
    normalise_journal,
    unique_slugs,
)
from catalogue.search import ArticleColumn, IndexText, column_of_new_articles, index_articles

# -- what benchmarks search for (fixed, whatever the seed) ---------------------

# In over 90% of articles (title or abstract).
COMMON_TERMS = ("study", "results")
# In about 4% of articles: the method of their topic, so in the title.
MEDIUM_TERM = "elastography"
MEDIUM_SHARE = 0.04
# Each in RARE_ARTICLES articles (all of them when there are fewer).
RARE_TERMS = ("zwitterionic", "quasicrystalline", "xerophthalmic")
RARE_ARTICLES = 5
# Rank 1 of their vocabularies.
MOST_COMMON_KEYWORD = "human"  # an indexing term; slug "human"
BUSIEST_JOURNAL = "Diagnostic and Interventional Imaging"
MOST_PROLIFIC_AUTHOR = ("Wang", "Wei")  # family, given; slug "wei-wang"
RESERVED = (*RARE_TERMS, MEDIUM_TERM)

FIRST_YEAR, LAST_YEAR = 1970, 2026
DEFAULT_BATCH_SIZE = 2000
# Larger IN lists than this are split (SQLite allows 32,766 variables).
SLUG_CHUNK = 5000
# SQLite's page cache is 2 MB by default: too little to keep the indexes that
# every batch inserts into (keyword links: five B-trees) in memory, so most
# inserts would wait on reads.
SQLITE_CACHE_KIB = 256 * 1024

# -- the vocabulary -------------------------------------------------------------

terms = demo._terms  # "a; b; c" -> ("a", "b", "c")

# Greek and Latin pieces make words that read like the jargon of the field:
# "neurogenic", "osteolysis", "piezometry". About 30,000 of them.
PREFIXES = terms("""
    cardio; neuro; osteo; hepato; nephro; pneumo; gastro; dermato; hemato; immuno; angio;
    arthro; myo; onco; radio; thermo; electro; hydro; bio; geo; photo; micro; nano; chemo;
    cyto; histo; patho; physio; endo; peri; poly; hyper; hypo; trans; inter; intra; multi;
    retro; spectro; tribo; piezo; magneto; aero; litho; morpho; chrono; vaso; glyco; lipo
""")
ROOTS = terms("""
    vascul; gen; spin; cort; mechan; morph; lys; plast; stat; troph; kin; path; tox; metr;
    graph; scop; synth; phor; stas; tens; duct; fract; lumin; sorb; crystall; flu; polar;
    therm; sens; cell
""")
SUFFIXES = terms("""
    ic; al; osis; itis; ectomy; ology; ometry; ography; ase; ide; ation; ity; ism; ive;
    ance; ous; oid; ial; ency; ics
""")
ADJECTIVES = terms("""
    chronic; acute; adaptive; robust; early; late; novel; dynamic; structural; functional;
    systemic; local; residual; transient; nonlinear; hybrid; automated; quantitative;
    minimally invasive; high-resolution; low-dose; multiscale; real-time; wearable
""")
NOUNS = terms("""
    response; changes; patterns; markers; effects; outcomes; signals; parameters; features;
    mechanisms; pathways; properties; behaviour; variability; measurements; profiles;
    indices; thresholds; dynamics; interactions
""")
VERBS = terms("""
    assessed; measured; compared; quantified; characterised; monitored; recorded;
    estimated; examined; evaluated
""")
HEADS = {
    "medical": terms("""
        therapy; imaging; syndrome; disease; biomarkers; injury; surgery; inflammation;
        receptor; signalling; dysfunction; metabolism; neuropathy; lesions; fibrosis
    """),
    "engineering": terms("""
        sensor; network; control; model; coating; scaffold; alloy; actuator; dynamics;
        estimation; optimisation; manufacturing; composite; interface; monitoring
    """),
}
SUBJECTS = terms("""
    Radiology; Oncology; Neurology; Anaesthesia; Orthopaedics; Cardiology; Biomechanics;
    Materials Science; Mechanical Engineering; Civil Engineering; Energy Research; Signal
    Processing; Robotics; Medical Imaging; Public Health; Rehabilitation; Sports Medicine;
    Pain Research; Biomedical Engineering; Structural Engineering; Clinical Medicine;
    Surgery; Nursing; Physiotherapy; Geriatrics; Paediatrics; Epidemiology; Pharmacology;
    Neuroscience; Endocrinology; Gastroenterology; Nephrology; Pulmonology; Dermatology;
    Haematology; Immunology; Infectious Diseases; Intensive Care; Emergency Medicine;
    Palliative Care; Applied Physics; Acoustics; Control Engineering; Computer Science;
    Artificial Intelligence; Data Science; Electrical Engineering; Power Systems; Chemical
    Engineering; Environmental Engineering; Water Resources; Transportation; Manufacturing;
    Tribology; Corrosion Science; Polymer Science; Nanotechnology; Optics; Photonics;
    Sensor Technology
""")
JOURNAL_FORMS = terms("""
    Journal of {}; International Journal of {}; Annals of {}; Advances in {}; Archives of {};
    European Journal of {}; American Journal of {}; Reviews in {}; Current Opinion in {};
    Progress in {}; Research in {}; Asian Journal of {}; {} Research; {} Reports; Clinical {};
    Applied {}; Frontiers of {}; Letters in {}
""")
ENTRY_TYPES = (
    ("article", 86.0),
    ("inproceedings", 9.0),
    ("incollection", 2.0),
    ("book", 1.0),
    ("misc", 1.0),
    ("phdthesis", 1.0),
)
LANGUAGES = (("English", 96.0), ("German", 1.0), ("French", 1.0), ("Chinese", 1.0), ("", 1.0))

TITLES = (
    "{Method} for {task} in {subjects}: {A} {design}",
    "{Method} for {task}: Current status and future trends",
    "Efficacy of {method} for {task} in {subjects}",
    "A {method}-based approach to {task}",
    "{Task} using {method}: A comparison with conventional techniques",
    "Long-term outcomes of {method} in {subjects}",
    "{Concept} {noun} after {method} in {subjects}",
    "{Method} and {concept} {noun}: {A} {design}",
    "Does {method} improve {task}? Evidence from {subjects}",
)
# One group after another; `None` weights are uniform.
BACKGROUND = (
    "{Task} remains a major challenge, and {concept} {noun} are often overlooked.",
    "{Method} has emerged as a promising approach for {task}.",
    "Despite recent advances, evidence on {method} for {task} in {subjects} is scarce.",
    "Conventional approaches to {task} are limited by cost, time and {concept} variability.",
    "The {concept} {noun} of {subjects} under {method} are poorly understood.",
    "Interest in {concept} and {concept2} mechanisms has grown over the past decade.",
    "Little is known about how {adjective} {concept} {noun} relate to {task} in {subjects},"
    " although both are measured routinely.",
    "Previous work has focused on {concept2} {noun2}, leaving the role of {method} unclear.",
)
AIMS = (  # all but the last mention "study"
    "The aim of this study was to evaluate {method} for {task} in {subjects}.",
    "In this study, we propose a framework based on {method} for {task}.",
    "This study assessed whether {method} improves {task}, using a {design}.",
    "We conducted a {design} to study the effect of {method} on {task}.",
    "The present study compares {method} with {concept} {noun} for {task}.",
    "This study investigates the {concept} basis of {task} in {subjects} treated with {method}.",
    "We propose a novel {concept} model for {task} in {subjects} based on {method}.",
)
AIM_WEIGHTS = tuple(accumulate((16, 16, 16, 16, 16, 16, 4)))
METHODS = (
    "A total of {n} {subjects} were analysed between {y1} and {y2}.",
    "Data from {n} {subjects} were collected at {k} centres during the study period.",
    "The model was trained on {n} samples and validated on an independent test set.",
    "Outcomes were compared using mixed-effects regression and bootstrap resampling.",
    "{Concept} and {concept2} {noun2} were {verb} before and after {method}.",
    "Statistical analysis used {metric} as the primary end point.",
    "{Concept} {noun2} were {verb} with {adjective} {concept2} protocols.",
    "Inclusion required complete {concept} records and at least {k} months of follow-up;"
    " cases with {adjective} {concept2} {noun2} were excluded.",
    "Two independent reviewers, blinded to {method}, {verb} all {noun} against the"
    " reference standard.",
    "Sensitivity analyses repeated the primary comparison after excluding {adjective} cases.",
)
RESULTS = (  # all but the last mention "results"
    "The results showed {a} {metric} of {x:.2f} (95% CI {lo:.2f}–{hi:.2f}).",
    "In our results, errors were reduced by {p}% compared with the reference (p < 0.0{d}).",
    "No major complications were observed; results for {concept} {noun} were consistent.",
    "Results remained stable across subgroups, with {metric} above {lo:.2f}.",
    "{Method} outperformed {adjective} {concept} baselines in {p}% of cases.",
)
RESULT_WEIGHTS = tuple(accumulate((24, 24, 24, 24, 4)))
CONCLUSIONS = (
    "These findings suggest that {method} is a safe and effective option for {task}.",
    "{Method} may therefore support decision-making for {subjects}.",
    "Further prospective studies are warranted to confirm these results.",
    "The approach generalises well and could be integrated into {concept} workflows.",
    "{Adjective} {concept} {noun} should be considered when planning {method} for {subjects}.",
)
RARE_SENTENCE = "Incidental {term} changes were noted in a small subset of {subjects}."


@dataclass(frozen=True)
class Ranked:
    """Items in rank order, picked by Zipf's law: rank r weighs 1 / r**s."""

    items: tuple[Any, ...]
    cum_weights: tuple[float, ...]

    @classmethod
    def of(cls, items: Sequence[Any], s: float) -> Ranked:
        weights = accumulate(1 / r**s for r in range(1, len(items) + 1))
        return cls(tuple(items), tuple(weights))

    def pick(self, rng: random.Random, k: int = 1) -> list[Any]:
        """`rng.choices(items, cum_weights=..., k=k)`, the same draws, without
        its checks: it runs a dozen times per article."""
        weights = self.cum_weights
        total, hi = weights[-1], len(weights) - 1
        return [self.items[bisect_right(weights, rng.random() * total, 0, hi)] for _ in range(k)]


@dataclass(frozen=True)
class Topic:
    """One field's words: methods, tasks, subjects, author keywords, indexing terms."""

    name: str
    methods: Ranked
    tasks: Ranked
    subjects: Ranked
    author_keywords: Ranked  # of normalised keyword forms
    indexed_keywords: Ranked
    heads: tuple[str, ...]


@dataclass(frozen=True)
class JournalInfo:
    name: str
    abbreviation: str
    short: str  # for DOIs: "diii"
    issn: str
    publisher: str
    doi_prefix: str
    founded: int


@dataclass(frozen=True)
class Vocabulary:
    people: Ranked  # of (prefix, family, given)
    journals: Ranked  # of JournalInfo
    conferences: tuple[str, ...]
    concepts: Ranked  # jargon words for titles and abstracts
    topics: tuple[Topic, ...]
    keyword_names: dict[str, str]  # normalised form -> display name


def _without_reserved(words: Iterable[str]) -> list[str]:
    """Words that contain none of the benchmark's terms, so searches for those
    find only the articles they were put in."""
    return [w for w in words if not any(t in fold(w) for t in RESERVED)]


def _jargon(rng: random.Random) -> list[str]:
    words = []
    for prefix in PREFIXES:
        for root in ROOTS:
            for suffix in SUFFIXES:
                stem = prefix + root
                if stem[-1] == suffix[0]:
                    stem = stem[:-1]
                words.append(stem + suffix)
    words = list(dict.fromkeys(_without_reserved(words)))
    rng.shuffle(words)
    return words


def _phrases(
    rng: random.Random, words: Sequence[str], heads: Sequence[str], count: int, *, title: bool
) -> list[str]:
    """`count` distinct keyword-like phrases: "neurogenic", "osteolysis therapy"."""
    found: dict[str, str] = {}
    while len(found) < count:
        word = words[rng.randrange(len(words))]
        form = rng.random()
        if form < 0.3:
            phrase = word
        elif form < 0.8:
            phrase = f"{word} {rng.choice(heads)}"
        else:
            phrase = f"{rng.choice(ADJECTIVES)} {word}"
        if title and rng.random() < 0.5:
            phrase = phrase.title()
        found.setdefault(normalise_keyword(phrase), phrase)
    return list(found.values())


def _abbreviation(name: str) -> str:
    small = {"of", "and", "the", "in", "for", "on", "with"}
    return " ".join(
        w if len(w) <= 5 else f"{w[:4]}." for w in name.split() if w.lower() not in small
    )


def _split_family(family: str) -> tuple[str, str]:
    """("van der", "Berg") from "van der Berg": lower-case particles are a prefix."""
    words = family.split()
    n = 0
    while n < len(words) - 1 and words[n].islower():
        n += 1
    return " ".join(words[:n]), " ".join(words[n:])


@cache
def vocabulary() -> Vocabulary:
    """The words every generated catalogue draws from, in rank order.

    Built from a fixed seed: the same on every run and for every `--seed`.
    """
    rng = random.Random("generate_catalogue vocabulary 1")
    keyword_names: dict[str, str] = {}

    def keywords(names: Iterable[str]) -> list[str]:
        """Normalised forms in rank order, each once; remembers display names."""
        forms = []
        for name in _without_reserved(names):
            form = normalise_keyword(name)
            keyword_names.setdefault(form, name)
            forms.append(form)
        return list(dict.fromkeys(forms))

    jargon = _jargon(rng)
    topics = []
    for name, source, share in (("medical", demo.MEDICAL, 0), ("engineering", demo.ENGINEERING, 1)):
        methods, tasks, subjects, author_terms, indexed_terms = source
        heads = HEADS[name]
        # Each field its own slice of the jargon, so that its keywords differ.
        words = jargon[share::2]
        topics.append(
            Topic(
                name=name,
                methods=Ranked.of(_without_reserved(methods), 1.0),
                tasks=Ranked.of(tasks, 1.0),
                subjects=Ranked.of(subjects, 1.0),
                author_keywords=Ranked.of(
                    keywords([*author_terms, *_phrases(rng, words, heads, 30_000, title=False)]),
                    0.9,
                ),
                indexed_keywords=Ranked.of(
                    keywords([*indexed_terms, *_phrases(rng, words, heads, 4_000, title=True)]),
                    1.0,
                ),
                heads=heads,
            )
        )
    assert topics[0].indexed_keywords.items[0] == MOST_COMMON_KEYWORD

    # Family x given name x middle initial; a third without the initial.
    people = {}
    for family in demo.FAMILY_NAMES:
        for given in demo.GIVEN_NAMES:
            for initial in "ABCDEFGHJKLMNPRST":
                middle = "" if rng.random() < 0.35 else f" {initial}."
                people[(*_split_family(family), given + middle)] = None
    pool = list(people)
    rng.shuffle(pool)
    first = ("", *MOST_PROLIFIC_AUTHOR)
    pool = [first, *(p for p in pool[:300_000] if p != first)]

    journal_names = list(demo.JOURNALS)
    journal_names += [form.format(s) for s in SUBJECTS for form in JOURNAL_FORMS]
    unique: dict[str, str] = {}
    for journal in journal_names:
        unique.setdefault(normalise_journal(journal), journal)
    journal_names = list(unique.values())
    journal_names = [journal_names[0], *rng.sample(journal_names[1:], len(journal_names) - 1)]
    assert journal_names[0] == BUSIEST_JOURNAL
    journals = []
    for journal in journal_names:
        fixed = random.Random(journal)  # a journal's details do not depend on anything else
        publisher, prefix = fixed.choice(demo.PUBLISHERS)
        journals.append(
            JournalInfo(
                name=journal,
                abbreviation=_abbreviation(journal),
                short="".join(w[0] for w in journal.split() if w[0].isupper()).lower() or "j",
                issn=normalise_issn(demo.issn(fixed)),
                publisher=publisher,
                doi_prefix=prefix,
                founded=fixed.randrange(1900, 2015),
            )
        )
    conferences = [*demo.CONFERENCES]
    conferences += [f"International Conference on {s}" for s in SUBJECTS]
    return Vocabulary(
        people=Ranked.of(pool, 0.5),
        journals=Ranked.of(journals, 1.0),
        conferences=tuple(conferences),
        concepts=Ranked.of(jargon, 1.0),
        topics=tuple(topics),
        keyword_names=keyword_names,
    )


# -- one article ---------------------------------------------------------------


class Words(dict[str, Any]):
    """What templates fill in; "{Method}" is "{method}" with a capital."""

    def __missing__(self, key: str) -> str:
        value = self[key.lower()]
        return value[0].upper() + value[1:]


@dataclass
class Draft:
    """An article before it is written: its columns, what it links to, its index text."""

    values: dict[str, Any]
    people: list[tuple[str, str, str]]  # in author order
    keywords: list[tuple[str, str]]  # (normalised form, kind)
    journal: JournalInfo | None
    index: IndexText  # for the full-text index of catalogue.search


def _weights(pairs: Sequence[tuple[Any, float]]) -> tuple[tuple[Any, ...], tuple[float, ...]]:
    items, weights = zip(*pairs, strict=True)
    return items, tuple(accumulate(weights))


class ArticleMaker:
    """Drafts articles one after another from one random stream.

    The stream depends only on the seed and the article's position, never on
    the batch size or the database, so a seed and a count give one catalogue.
    """

    def __init__(self, seed: int, count: int, vocab: Vocabulary) -> None:
        self.rng = random.Random(seed)
        self.vocab = vocab
        years = range(FIRST_YEAR, LAST_YEAR + 1)
        # Recent years more common; the current year is only partly there.
        self.years = tuple(years)
        self.year_weights = tuple(
            accumulate(
                math.exp(0.075 * (y - LAST_YEAR + 1)) * (0.5 if y == LAST_YEAR else 1)
                for y in years
            )
        )
        self.entry_types = _weights(ENTRY_TYPES)
        self.languages = _weights(LANGUAGES)
        # The few articles each rare term goes into, by position.
        chooser = random.Random(f"rare {seed}")
        self.rare: dict[int, list[str]] = {}
        for term in RARE_TERMS:
            for position in chooser.sample(range(count), min(count, RARE_ARTICLES)):
                self.rare.setdefault(position, []).append(term)

    def draft(self, position: int, article_id: int) -> Draft:
        rng = self.rng
        vocab = self.vocab
        topic = vocab.topics[0] if rng.random() < 0.6 else vocab.topics[1]
        year = rng.choices(self.years, cum_weights=self.year_weights)[0]
        entry_type = rng.choices(self.entry_types[0], cum_weights=self.entry_types[1])[0]
        language = rng.choices(self.languages[0], cum_weights=self.languages[1])[0]

        count = min(1 + int(rng.expovariate(1 / 4.5)), 30)
        people = list(dict.fromkeys(vocab.people.pick(rng, count)))
        et_al = len(people) > 20
        people = people[:20]

        author_forms = list(dict.fromkeys(topic.author_keywords.pick(rng, rng.randint(3, 8))))
        indexed_forms = list(dict.fromkeys(topic.indexed_keywords.pick(rng, rng.randint(8, 14))))
        keywords = [(f, "author") for f in author_forms] + [(f, "indexed") for f in indexed_forms]
        names = vocab.keyword_names
        author_names = [names[f] for f in author_forms]
        indexed_names = [names[f] for f in indexed_forms]

        words = self._words(topic)
        title = rng.choice(TITLES).format_map(words)
        journal = vocab.journals.pick(rng)[0] if entry_type == "article" else None
        publisher = journal.publisher if journal else rng.choice(demo.PUBLISHERS)[0]
        abstract = self._abstract(words, year, publisher, self.rare.get(position, []))

        first_page = rng.randint(1, 2400)
        pages = f"{first_page}–{first_page + rng.randint(4, 22)}"
        volume = str(max(1, year - journal.founded)) if journal else ""
        number = str(rng.randint(1, 12)) if journal else ""
        month = rng.randint(1, 12) if rng.random() < 0.75 else None
        doi = self._doi(journal, year, article_id) if rng.random() < 0.9 else ""
        family = people[0][1]
        key = f"{demo.ascii_letters(family) or 'Anon'}{year}{article_id}"

        extra: dict[str, str] = {}
        if entry_type == "inproceedings":
            extra["booktitle"] = f"Proceedings of the {rng.choice(vocab.conferences)}"
        elif entry_type == "phdthesis":
            extra["school"] = f"University of {rng.choice(demo.FAMILY_NAMES)}"
        extra["document_type"] = {
            "article": "Review" if rng.random() < 0.1 else "Article",
            "inproceedings": "Conference Paper",
            "incollection": "Book Chapter",
        }.get(entry_type, entry_type.capitalize())
        extra["source"] = "Scopus"
        if rng.random() < 0.85:
            extra["note"] = f"Cited by: {int(rng.paretovariate(1.2) * (2027 - year) / 2)}"

        display = [" ".join(p for p in (given, prefix, fam) if p) for prefix, fam, given in people]
        values = {
            "citation_key": key,
            "source_key": key,
            "entry_type": entry_type,
            "title": title,
            "abstract": abstract,
            "year": year,
            "month": month,
            "volume": volume,
            "number": number,
            "pages": pages,
            "doi": doi,
            "url": "",
            "publisher": publisher,
            "issn": journal.issn if journal else "",
            "language": language,
            "authors_et_al": et_al,
            "extra_fields": extra,
            "cited_by": citation_count(extra.get("note", "")),
            "source_fingerprint": "",
            "dedupe_block": dedupe_block(year, family),
        }
        values["source_bibtex"] = _bibtex(
            values, people, et_al, journal, author_names, indexed_names
        )
        # What the importer indexes: authors, then keywords in the entry's order.
        index = IndexText(
            article_id=article_id,
            title=title,
            people=[*display, *author_names, *indexed_names],
            journal=journal.name if journal else "",
            abstract=abstract,
        )
        return Draft(values, people, keywords, journal, index)

    def _words(self, topic: Topic) -> Words:
        rng = self.rng
        concepts = self.vocab.concepts.pick(rng, 2)
        method = topic.methods.pick(rng)[0]
        if rng.random() < MEDIUM_SHARE:
            method = f"shear wave {MEDIUM_TERM}"
        words = Words(
            {
                "method": method,
                "task": topic.tasks.pick(rng)[0],
                "subjects": topic.subjects.pick(rng)[0],
                "design": rng.choice(demo.DESIGNS),
                "metric": rng.choice(demo.METRICS),
                "concept": concepts[0],
                "concept2": concepts[1],
                "noun": rng.choice(NOUNS),
                "noun2": rng.choice(NOUNS),
                "verb": rng.choice(VERBS),
                "adjective": rng.choice(ADJECTIVES),
            }
        )
        words["A"] = "An" if words["design"][0] in "aeiou" else "A"
        return words

    def _abstract(self, words: Words, year: int, publisher: str, rare: list[str]) -> str:
        rng = self.rng
        words.update(demo.abstract_numbers(rng, year, words["metric"]))
        templates = [
            *rng.sample(BACKGROUND, rng.randint(1, 3)),
            *rng.choices(AIMS, cum_weights=AIM_WEIGHTS),
            *rng.sample(METHODS, rng.randint(3, 6)),
            *rng.choices(RESULTS, cum_weights=RESULT_WEIGHTS, k=rng.randint(1, 3)),
            *rng.sample(CONCLUSIONS, rng.randint(1, 2)),
        ]
        sentences = [t.format_map(words) for t in templates]
        sentences += [RARE_SENTENCE.format(term=t, subjects=words["subjects"]) for t in rare]
        return " ".join(dict.fromkeys(sentences)) + f" © {year} {publisher}"

    @staticmethod
    def _doi(journal: JournalInfo | None, year: int, article_id: int) -> str:
        """A DOI shaped like its publisher's, unique through the article's id."""
        if journal is None:
            return f"10.5555/proc.{year}.{article_id:07d}"
        prefix, short = journal.doi_prefix, journal.short
        if prefix == "10.1016":
            doi = f"10.1016/j.{short}.{year}.{article_id:07d}"
        elif prefix == "10.3390":
            doi = f"10.3390/{short}{article_id:08d}"
        elif prefix == "10.3389":
            doi = f"10.3389/f{short}.{year}.{article_id:07d}"
        elif prefix == "10.1371":
            doi = f"10.1371/journal.p{short}.{article_id:07d}"
        else:
            doi = f"{prefix}/{short}.{year}.{article_id:07d}"
        return normalise_doi(doi)


def _bibtex(
    values: dict[str, Any],
    people: list[tuple[str, str, str]],
    et_al: bool,
    journal: JournalInfo | None,
    author_keywords: list[str],
    indexed: list[str],
) -> str:
    """The entry as a Scopus export would have held it: what `source_bibtex` keeps."""
    names = [f"{' '.join(p for p in (prefix, fam) if p)}, {given}" for prefix, fam, given in people]
    if et_al:
        names.append("others")
    fields = [
        ("author", " and ".join(names)),
        ("title", values["title"]),
        ("journal", journal.name if journal else ""),
        ("booktitle", values["extra_fields"].get("booktitle", "")),
        ("school", values["extra_fields"].get("school", "")),
        ("year", str(values["year"])),
        ("volume", values["volume"]),
        ("number", values["number"]),
        ("pages", values["pages"].replace("–", "-")),
        ("doi", values["doi"]),
        ("abstract", values["abstract"].replace("%", "\\%")),
        ("author_keywords", "; ".join(author_keywords)),
        ("keywords", "; ".join(indexed)),
        ("publisher", values["publisher"]),
        ("issn", values["issn"].replace("-", "")),
        ("language", values["language"]),
        ("document_type", values["extra_fields"]["document_type"]),
        ("source", "Scopus"),
        ("note", values["extra_fields"].get("note", "")),
    ]
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields if value)
    return f"@{values['entry_type']}{{{values['citation_key']},\n{body}\n}}\n"


# -- writing -------------------------------------------------------------------


def insert_rows(
    model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Plain INSERTs of `rows` (values in the order of `columns`).

    `executemany` on SQLite, which prepares the statement once. On PostgreSQL
    that is one round trip per row, about twenty per article, so rows go in
    with COPY instead, five times faster or so.
    """
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({placeholders})", rows)


def _insert_indexed(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    folded: Sequence[tuple[str, ...]],
    search_column: ArticleColumn,
) -> None:
    """PostgreSQL: articles with their search column, as the importer inserts them.

    COPY cannot compute the column, and filling it afterwards (as
    `index_articles` does for edited articles) would write every row twice,
    each time into every index, one UPDATE per row. So the rows and their
    folded text go into a temporary table with COPY, and one INSERT ... SELECT
    computes the column on the way into catalogue_article.
    """
    quote = connection.ops.quote_name
    names = ", ".join(quote(c) for c in columns)
    texts = [f"text_{n}" for n in range(len(folded[0]))]
    computed = search_column.sql % tuple(f"s.{t}" for t in texts)
    empty_texts = ", ".join(f"''::text AS {t}" for t in texts)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS generate_articles AS SELECT {names},"
            f" {empty_texts} FROM {quote(Article._meta.db_table)} WITH NO DATA"
        )
        with cursor.cursor.copy(
            f"COPY generate_articles ({names}, {', '.join(texts)}) FROM STDIN"
        ) as copy:
            for row, text in zip(rows, folded, strict=True):
                copy.write_row([*row, *text])
        cursor.execute(
            f"INSERT INTO {quote(Article._meta.db_table)} ({names}, {search_column.column})"
            f" SELECT {', '.join(f's.{quote(c)}' for c in columns)}, {computed}"
            " FROM generate_articles s"
        )
        cursor.execute("TRUNCATE generate_articles")  # for the next batch


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _next_id(model: type[models.Model]) -> int:
    return (model._default_manager.aggregate(top=Max("pk"))["top"] or 0) + 1


@dataclass
class Counts:
    articles: int = 0
    authorships: int = 0
    keyword_links: int = 0
    authors: int = 0
    keywords: int = 0
    journals: int = 0
    drafting_seconds: float = 0.0
    names_seconds: float = 0.0
    articles_seconds: float = 0.0  # the search index's share included
    index_seconds: float = 0.0


@dataclass(frozen=True)
class NameRow:
    """An author, keyword or journal to insert: what its model's save() would set."""

    normalised: str  # SluggedModel.normalise()
    slug_source: str  # SluggedModel.slug_source()
    values: dict[str, Any]  # other columns by attname


def _author_row(prefix: str, family: str, given: str) -> NameRow:
    person = Person(family=family, given=given, prefix=prefix)
    return NameRow(
        normalise_person(person),
        person.display_name,
        {"family": family, "given": given, "prefix": prefix},
    )


def _keyword_row(name: str) -> NameRow:
    return NameRow(normalise_keyword(name), name, {"name": name})


def _journal_row(journal: JournalInfo) -> NameRow:
    return NameRow(
        normalise_journal(journal.name),
        journal.name,
        {
            "name": journal.name,
            "abbreviation": journal.abbreviation,
            "issn": journal.issn,
            "publisher": journal.publisher,
        },
    )


@dataclass
class _Rows:
    """Authors, keywords or journals: the database id of each normalised form.

    Rows are built as plain values (an Author instance per row would cost
    more than its INSERT), from the same functions the models call.
    """

    model: type[Author] | type[Keyword] | type[Journal]
    ids: dict[str, int] = field(default_factory=dict)
    next_id: int = 1

    @classmethod
    def load(cls, model: type[Author] | type[Keyword] | type[Journal]) -> _Rows:
        ids = dict(model._default_manager.values_list("normalised", "pk"))
        return cls(model, ids, _next_id(model))

    def insert(self, rows: Iterable[NameRow]) -> int:
        """Insert the rows whose normalised form is new, with ids and unique slugs."""
        fields = self.model._meta.concrete_fields
        limit = self.model._meta.get_field("normalised").max_length
        defaults = {f.attname: f.get_default() for f in fields}
        new = []
        for row in rows:
            normalised = row.normalised[:limit]
            if normalised not in self.ids:
                self.ids[normalised] = self.next_id
                new.append((self.next_id, normalised, row))
                self.next_id += 1
        for chunk in _chunks(new, SLUG_CHUNK):
            slugs = unique_slugs(self.model, [row.slug_source for _, _, row in chunk])
            values = [
                {**defaults, **row.values, "id": pk, "normalised": normalised, "slug": slug}
                for (pk, normalised, row), slug in zip(chunk, slugs, strict=True)
            ]
            insert_rows(
                self.model,
                [f.column for f in fields],
                [[v[f.attname] for f in fields] for v in values],
            )
        return len(new)

    def id_of(self, row: NameRow) -> int:
        return self.ids[row.normalised[: self.model._meta.get_field("normalised").max_length]]


class Writer:
    """Writes drafts a batch at a time: new authors, keywords and journals
    first, then the articles, then their authorships and keywords."""

    def __init__(self) -> None:
        self.authors = _Rows.load(Author)
        self.keywords = _Rows.load(Keyword)
        self.journals = _Rows.load(Journal)
        self.counts = Counts()
        # The database id of each person and journal met so far.
        self.people: dict[tuple[str, str, str], int] = {}
        self.titles: dict[JournalInfo, int] = {}
        self.now = timezone.now()
        self.fields = Article._meta.concrete_fields

    def first_article_id(self) -> int:
        return _next_id(Article)

    def write(self, drafts: list[tuple[int, Draft]]) -> None:
        with transaction.atomic():
            started = time.perf_counter()
            self._write_names(drafts)
            self.counts.names_seconds += time.perf_counter() - started
            self._avoid_clashes(drafts)
            started = time.perf_counter()
            self._write_articles(drafts)
            self.counts.articles_seconds += time.perf_counter() - started

    def _write_names(self, drafts: list[tuple[int, Draft]]) -> None:
        names = vocabulary().keyword_names
        people = {p: _author_row(*p) for _, d in drafts for p in d.people if p not in self.people}
        self.counts.authors += self.authors.insert(people.values())
        for person, row in people.items():
            self.people[person] = self.authors.id_of(row)
        forms = {f: None for _, d in drafts for f, _ in d.keywords if f not in self.keywords.ids}
        self.counts.keywords += self.keywords.insert(_keyword_row(names[f]) for f in forms)
        journals = {
            d.journal: _journal_row(d.journal)
            for _, d in drafts
            if d.journal and d.journal not in self.titles
        }
        self.counts.journals += self.journals.insert(journals.values())
        for journal, row in journals.items():
            self.titles[journal] = self.journals.id_of(row)

    @staticmethod
    def _avoid_clashes(drafts: list[tuple[int, Draft]]) -> None:
        """Keys and DOIs are unique by construction (they hold the article's id),
        but an earlier import may hold the same by chance: rename or drop those."""
        keys = {d.values["citation_key"] for _, d in drafts}
        taken = set(
            Article.objects.filter(citation_key__in=keys).values_list("citation_key", flat=True)
        )
        dois = {d.values["doi"] for _, d in drafts if d.values["doi"]}
        held = set(Article.objects.filter(doi__in=dois).values_list("doi", flat=True))
        for _, draft in drafts:
            values = draft.values
            if values["citation_key"] in taken:
                values["citation_key"] += "g"
                values["source_key"] = values["citation_key"]
            if values["doi"] in held:
                values["doi"] = ""

    def _write_articles(self, drafts: list[tuple[int, Draft]]) -> None:
        rows, authorships, keyword_links = [], [], []
        fixed = {
            "created_at": self.now,
            "updated_at": self.now,
            "import_batch_id": None,
        }
        prepared = {
            name: Article._meta.get_field(name).get_db_prep_save(value, connection)
            for name, value in fixed.items()
        }
        extra_field = Article._meta.get_field("extra_fields")
        for article_id, draft in drafts:
            values = draft.values
            journal = draft.journal
            values["id"] = article_id
            values["journal_id"] = self.titles[journal] if journal else None
            values.update(prepared)
            values["extra_fields"] = extra_field.get_db_prep_save(
                values["extra_fields"], connection
            )
            rows.append(
                [values[f.attname] if f.attname in values else f.get_default() for f in self.fields]
            )
            authorships += [
                (article_id, self.people[p], n) for n, p in enumerate(draft.people, start=1)
            ]
            keyword_links += [
                (article_id, self.keywords.ids[form], kind) for form, kind in draft.keywords
            ]
        columns = [f.column for f in self.fields]
        started = time.perf_counter()
        if search_column := column_of_new_articles():
            _insert_indexed(columns, rows, [d.index.folded() for _, d in drafts], search_column)
        else:
            insert_rows(Article, columns, rows)
        self.counts.index_seconds += time.perf_counter() - started
        insert_rows(Authorship, ["article_id", "author_id", "position"], authorships)
        insert_rows(ArticleKeyword, ["article_id", "keyword_id", "kind"], keyword_links)
        if not search_column:
            started = time.perf_counter()
            index_articles(draft.index for _, draft in drafts)
            self.counts.index_seconds += time.perf_counter() - started
        self.counts.articles += len(rows)
        self.counts.authorships += len(authorships)
        self.counts.keyword_links += len(keyword_links)

    def finish(self) -> None:
        """Move PostgreSQL's id sequences past the ids given here (SQLite's
        AUTOINCREMENT follows by itself), then do what autovacuum would soon
        after a bulk load: the search index rewrote every new article row,
        so vacuum the dead copies away and refresh the planner's statistics
        (only the statistics inside a transaction, as in tests)."""
        tables = [Journal, Author, Keyword, Article, Authorship, ArticleKeyword]
        statements = connection.ops.sequence_reset_sql(no_style(), tables)
        if connection.vendor == "postgresql":
            quote = connection.ops.quote_name
            command = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
            statements += [f"{command} {quote(m._meta.db_table)}" for m in tables]
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)


def generate(
    count: int,
    *,
    seed: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressBar | None = None,
) -> Counts:
    """Write `count` generated articles into the default database."""
    vocab = vocabulary()
    maker = ArticleMaker(seed, count, vocab)
    with sqlite_pragmas(cache_size=-SQLITE_CACHE_KIB):
        writer = Writer()
        first_id = writer.first_article_id()
        for start in range(0, count, batch_size):
            positions = range(start, min(start + batch_size, count))
            started = time.perf_counter()
            drafts = [(first_id + p, maker.draft(p, first_id + p)) for p in positions]
            writer.counts.drafting_seconds += time.perf_counter() - started
            writer.write(drafts)
            if progress is not None:
                progress.update(len(positions))
        writer.finish()
    return writer.counts


class HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Keeps the line breaks of the help text."""


class Command(BaseCommand):
    help = f"""Generate COUNT realistic articles directly in the database (not through the
importer), for benchmarks of search and browsing: about 15 keywords (author
keywords and indexing terms) and 5 ordered authors per article; keywords,
journals and authors Zipf-distributed; years {FIRST_YEAR}-{LAST_YEAR}, recent ones more
common; 86% journal articles; 90% with a DOI. The same --seed and COUNT give
the same catalogue, whatever --batch-size.

Terms for benchmark queries (the same for every seed; `q` finds them through
the full-text index, which stems them, so "study" also finds "studies"):
  in over 90% of articles:  {", ".join(COMMON_TERMS)}
  in about {MEDIUM_SHARE:.0%} of articles:  {MEDIUM_TERM} (in "shear wave {MEDIUM_TERM}")
  in {RARE_ARTICLES} articles each:       {", ".join(RARE_TERMS)}
  most common keyword:      {MOST_COMMON_KEYWORD} (slug {MOST_COMMON_KEYWORD}), about 43%
  busiest journal:          {BUSIEST_JOURNAL}
                            (slug diagnostic-and-interventional-imaging), about 12%
  most prolific author:     {" ".join(reversed(MOST_PROLIFIC_AUTHOR))} (slug wei-wang), about 0.5%

Refuses to add to a catalogue that already has articles unless --append is
given (new rows then reuse its authors, keywords and journals). Do not run it
while an import writes: it gives ids above the highest in use. On PostgreSQL
it ends with VACUUM ANALYZE of the tables it wrote. -v 2 also says where the
time went.
"""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        kwargs.setdefault("formatter_class", HelpFormatter)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("count", type=int, help="how many articles to generate")
        parser.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help=f"articles per transaction (default: {DEFAULT_BATCH_SIZE})",
        )
        parser.add_argument(
            "--append",
            action="store_true",
            help="add to a catalogue that already has articles",
        )

    def handle(
        self, *args: Any, count: int, seed: int, batch_size: int, append: bool, **options: Any
    ) -> None:
        if count < 0 or batch_size < 1:
            raise CommandError("COUNT must be 0 or more and --batch-size at least 1.")
        held = Article.objects.count()
        if held and not append:
            raise CommandError(
                f"The catalogue already holds {held:,} articles. Use --append to add "
                f"{count:,} generated ones to them, or start from an empty database."
            )
        verbosity = options.get("verbosity", 1)
        started = time.perf_counter()
        vocabulary()
        with ProgressBar(
            total=count,
            desc="Generating articles",
            unit="article",
            file=sys.stderr,
            disable=verbosity < 1,
        ) as bar:
            counts = generate(count, seed=seed, batch_size=batch_size, progress=bar)
        seconds = time.perf_counter() - started
        if verbosity >= 1:
            rate = counts.articles / seconds if seconds else 0
            self.stdout.write(
                f"Generated {counts.articles:,} articles in {seconds:,.1f} s"
                f" ({rate:,.0f} articles/s, seed {seed}): {counts.authorships:,} authorships,"
                f" {counts.keyword_links:,} keyword links; new rows: {counts.authors:,} authors,"
                f" {counts.keywords:,} keywords, {counts.journals:,} journals."
            )
        if verbosity >= 2:
            self.stdout.write(
                f"Drafting {counts.drafting_seconds:,.1f} s, writing authors, keywords and"
                f" journals {counts.names_seconds:,.1f} s, writing articles and their links"
                f" {counts.articles_seconds:,.1f} s, of which the search index"
                f" {counts.index_seconds:,.1f} s."
            )
