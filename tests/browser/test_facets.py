"""Refining the article list: facet links with counts, active filters, the year chart."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from catalogue.models import ImportBatch


def facet(page: Page, title: str) -> Locator:
    return page.locator(".facet").filter(has=page.get_by_role("heading", name=title, exact=True))


def facet_value(page: Page, title: str, label: str) -> Locator:
    """The list item of one value: its link and its count."""
    # A chosen value's link is named "✓ label" (the tick is CSS generated content).
    name = re.compile(rf"^(✓ )?{re.escape(label)}$")
    return (
        facet(page, title).get_by_role("listitem").filter(has=page.get_by_role("link", name=name))
    )


def result_count(page: Page) -> Locator:
    return page.locator(".result-count")


def titles(page: Page) -> Locator:
    return page.locator(".article-list .article-title")


def test_keyword_and_journal_facets_narrow_the_results_and_their_counts(
    page: Page, catalogue: ImportBatch
) -> None:
    page.goto("/")
    expect(result_count(page)).to_contain_text("10 articles")
    expect(facet_value(page, "Keywords", "Pain").locator(".count")).to_have_text("6")
    expect(facet_value(page, "Journals", "Pain Medicine").locator(".count")).to_have_text("3")

    facet_value(page, "Keywords", "Cryotherapy").get_by_role("link").click()

    expect(result_count(page)).to_contain_text("4 articles")
    expect(page).to_have_url(re.compile(r"\?keyword=cryotherapy$"))
    expect(facet_value(page, "Keywords", "Cryotherapy").get_by_role("link")).to_have_attribute(
        "aria-current", "true"
    )
    # Counts are now among the four cryotherapy articles.
    expect(facet_value(page, "Keywords", "Pain").locator(".count")).to_have_text("2")
    expect(facet_value(page, "Journals", "Pain Medicine").locator(".count")).to_have_text("2")
    expect(facet_value(page, "Journals", "Journal of Pain Research")).to_have_count(0)

    facet_value(page, "Journals", "Pain Medicine").get_by_role("link").click()

    expect(result_count(page)).to_contain_text("2 articles")
    expect(titles(page)).to_have_text(
        [
            "Ultrasound-guided cryoanalgesia after thoracic surgery",
            "Cryoneurolysis of the genicular nerves for knee pain",
        ]
    )
    active = page.get_by_role("list", name="Active filters")
    expect(active.get_by_role("listitem")).to_have_text(
        [re.compile("Keyword: Cryotherapy"), re.compile("Journal: Pain Medicine"), "Clear all"]
    )

    active.get_by_role("link", name="Remove filter Keyword: Cryotherapy").click()

    expect(result_count(page)).to_contain_text("3 articles")
    expect(page).to_have_url(re.compile(r"\?journal=pain-medicine$"))
    expect(active.get_by_role("listitem")).to_have_text(
        [re.compile("Journal: Pain Medicine"), "Clear all"]
    )


def test_a_type_facet_value_filters_and_clicking_it_again_removes_the_filter(
    page: Page, catalogue: ImportBatch
) -> None:
    page.goto("/")
    expect(facet_value(page, "Types", "article").locator(".count")).to_have_text("8")

    facet_value(page, "Types", "book").get_by_role("link").click()

    expect(result_count(page)).to_contain_text("1 article")
    expect(titles(page)).to_have_text(["Handbook of pain management"])
    chosen = facet_value(page, "Types", "book").get_by_role("link")
    expect(chosen).to_have_attribute("title", "Remove this filter")

    chosen.click()

    expect(result_count(page)).to_contain_text("10 articles")
    expect(page.get_by_role("list", name="Active filters")).to_have_count(0)


def test_clicking_a_bar_of_the_year_chart_sets_the_year_range(
    page: Page, catalogue: ImportBatch
) -> None:
    page.goto("/?keyword=pain")
    expect(result_count(page)).to_contain_text("6 articles")

    page.locator(".year-chart svg").get_by_role("link", name="2021: 2 articles").click()

    expect(page.get_by_label("From year")).to_have_value("2021")
    expect(page.get_by_label("To year")).to_have_value("2021")
    expect(result_count(page)).to_contain_text("2 articles")
    expect(page).to_have_url(re.compile(r"keyword=pain"))  # the keyword stays chosen
    # Like a facet, the chart leaves out its own filter: the other years stay to choose.
    expect(page.locator(".year-chart figcaption")).to_contain_text("2017–2021")

    page.get_by_role("link", name="Remove filter From: 2021").click()

    expect(page.get_by_label("From year")).to_have_value("")
    expect(page.get_by_label("To year")).to_have_value("2021")
    expect(result_count(page)).to_contain_text("6 articles")  # all up to 2021


def test_the_year_table_under_the_chart_sets_the_year_too(
    page_without_js: Page, catalogue: ImportBatch
) -> None:
    page = page_without_js
    page.goto("/")
    page.get_by_text("The numbers, as a table").click()
    page.locator(".year-chart table").get_by_role("link", name="2020").click()

    expect(result_count(page)).to_contain_text("2 articles")
    expect(page.get_by_label("From year")).to_have_value("2020")
