"""Searching from the box in the page header, with and without JavaScript."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from catalogue.models import ImportBatch


def header_search_box(page: Page) -> Locator:
    # A searchbox, or a combobox once suggest.js has given it a list.
    return page.get_by_role("search").get_by_label("Search articles")


def search_from_the_header(page: Page, words: str) -> None:
    page.goto("/")
    box = header_search_box(page)
    box.fill(words)
    box.press("Enter")


def test_a_search_from_the_home_page_ranks_title_matches_first_and_marks_the_words(
    page: Page, catalogue: ImportBatch
) -> None:
    search_from_the_header(page, "cryoanalgesia")

    expect(page).to_have_url(re.compile(r"/\?q=cryoanalgesia$"))
    expect(page.locator(".result-count")).to_contain_text("3 articles")
    titles = page.locator(".article-list .article-title")
    # Two titles say it; the third article has it only in its abstract.
    expect(titles).to_have_text(
        [
            re.compile("cryoanalgesia"),
            re.compile("cryoanalgesia"),
            "Cryoneurolysis of the genicular nerves for knee pain",
        ]
    )
    expect(titles.locator("mark")).to_have_text(["cryoanalgesia", "cryoanalgesia"])
    expect(page.locator(".article-list .snippet mark").first).to_have_text(
        re.compile("cryoanalgesia", re.IGNORECASE)
    )


def test_a_search_result_leads_to_the_article_page(page: Page, catalogue: ImportBatch) -> None:
    search_from_the_header(page, "hip fracture")

    page.get_by_role(
        "link", name="Nerve blocks for hip fracture in the emergency department"
    ).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Nerve blocks for hip fracture in the emergency department"
    )
    expect(page.locator(".fields")).to_contain_text("Emergency Medicine Journal")
    expect(page.get_by_role("link", name="Chinedu Okafor")).to_be_visible()
    expect(page.get_by_label("BibTeX record")).to_have_value(re.compile(r"@article\{Okafor2020,"))


def test_a_search_that_finds_nothing_says_so_and_suggests_a_word(
    page: Page, catalogue: ImportBatch
) -> None:
    search_from_the_header(page, "cryotherapyy")

    expect(page.locator(".result-count")).to_contain_text("0 articles")
    expect(page.get_by_text("No articles match.")).to_be_visible()
    page.locator(".did-you-mean").get_by_role("link", name="cryotherapy").click()

    expect(page.locator(".result-count")).to_contain_text("4 articles")


def test_typing_in_the_search_box_offers_names_from_the_catalogue(
    page: Page, catalogue: ImportBatch
) -> None:
    page.goto("/")
    box = header_search_box(page)
    box.press_sequentially("cryo")

    # suggest.js fills the <datalist> named by the box's `list` attribute.
    suggestions = page.locator(f"datalist#{box.get_attribute('list')} option")
    expect(suggestions).to_have_count(1)
    expect(suggestions).to_have_attribute("value", "Cryotherapy")
    expect(suggestions).to_have_attribute("label", "keyword")

    box.press_sequentially("thera")  # "cryothera": still the keyword
    expect(suggestions).to_have_attribute("value", "Cryotherapy")
    box.fill("Smi")
    expect(suggestions).to_have_attribute("value", "John Smith")
    expect(suggestions).to_have_attribute("label", "author")

    box.fill("John Smith")  # what choosing the suggestion puts in the box
    box.press("Enter")
    expect(page.locator(".result-count")).to_contain_text("3 articles")


def test_without_javascript_the_search_box_is_a_plain_form_that_still_searches(
    page_without_js: Page, catalogue: ImportBatch
) -> None:
    page = page_without_js
    search_from_the_header(page, "cryoanalgesia")

    expect(page.locator(".result-count")).to_contain_text("3 articles")
    box = header_search_box(page)
    expect(box).to_have_value("cryoanalgesia")
    expect(box).not_to_have_attribute("list", re.compile(".*"))  # no suggestions without JS
    page.get_by_role("button", name="Search").click()  # submitting again keeps the words
    expect(page).to_have_url(re.compile(r"\?q=cryoanalgesia$"))
