"""Browsing by clicking: keyword, journal and author pages, and the A–Z indexes."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from catalogue.models import ImportBatch


def heading(page: Page) -> Locator:
    return page.get_by_role("heading", level=1)


def status(page: Page) -> Locator:
    return page.get_by_role("main").get_by_role("status").first


def test_keyword_journal_and_author_pages_are_reached_by_clicking_links(
    page: Page, catalogue: ImportBatch
) -> None:
    page.goto("/")
    page.get_by_role("link", name="Cryoneurolysis of the genicular nerves for knee pain").click()

    page.locator("section.keywords").get_by_role("link", name="Cryotherapy").click()
    expect(heading(page)).to_have_text("Cryotherapy")
    expect(status(page)).to_have_text("4 articles")
    expect(page.get_by_role("heading", name="Top journals")).to_be_visible()

    page.locator(".profile-lists").get_by_role("link", name="Pain Medicine").click()
    expect(heading(page)).to_have_text("Pain Medicine")
    expect(status(page)).to_have_text("3 articles")

    page.locator(".article-list").get_by_role("link", name="John Smith").first.click()
    expect(heading(page)).to_have_text("John Smith")
    expect(status(page)).to_have_text("3 articles")
    co_authors = page.locator("section").filter(has=page.get_by_role("heading", name="Co-authors"))
    expect(co_authors.get_by_role("link")).to_have_count(3)  # Müller, García and Zhang

    page.get_by_role("link", name="Search and refine within this author’s articles").click()
    expect(page).to_have_url(re.compile(r"/\?author=john-smith$"))
    expect(page.locator(".result-count")).to_contain_text("3 articles")


@pytest.mark.parametrize(
    ("menu", "letter", "names"),
    [
        ("Keywords", "C", ["Cryotherapy"]),
        ("Journals", "P", ["Pain Medicine"]),
        ("Authors", "S", ["Smith, John"]),
    ],
)
def test_an_index_page_lists_the_names_under_a_letter_and_links_to_each(
    page: Page, catalogue: ImportBatch, menu: str, letter: str, names: list[str]
) -> None:
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name=menu).click()
    expect(heading(page)).to_have_text(menu)

    letters = page.get_by_role("navigation", name=f"{menu} by first letter")
    expect(letters.get_by_role("link", name="All")).to_have_attribute("aria-current", "page")
    letters.get_by_role("link", name=letter, exact=True).click()

    expect(letters.get_by_role("link", name=letter, exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    expect(status(page)).to_have_text(re.compile(rf"^{len(names)} {menu.lower()} under {letter}$"))
    entries = page.locator(".index-list li a")
    expect(entries).to_have_text(names)

    entries.first.click()
    expect(page).to_have_url(re.compile(rf"/{menu.lower()}/[\w-]+/$"))
    expect(page.get_by_role("link", name=menu, exact=True).first).to_be_visible()


def test_an_index_page_sorts_by_count_and_filters_by_name(
    page: Page, catalogue: ImportBatch
) -> None:
    page.goto("/keywords/")
    page.get_by_label("Sort by").select_option("count")
    page.get_by_role("button", name="Show").click()
    expect(page.locator(".index-list li a").first).to_have_text("Pain")

    page.get_by_label("Name contains").fill("pain")
    page.get_by_role("button", name="Show").click()
    expect(page.locator(".index-list li a")).to_have_text(["Pain", "Back pain"])
