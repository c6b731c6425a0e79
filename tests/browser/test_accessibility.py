"""Accessibility: axe-core on every kind of page, and keyboard use.

axe-core comes from the pinned PyPI package axe-playwright-python (its
axe.min.js, version in requirements-dev.txt), injected into the page by
Playwright: nothing is fetched from the network. A violation of serious or
critical impact fails the test; the message lists each rule and element.
"""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from catalogue.models import ImportBatch

from .pages import PAGES, SIGNED_IN

FAILING_IMPACTS = {"serious", "critical"}
AXE = Axe()


def serious_violations(page: Page) -> list[str]:
    """One line per element that breaks a serious or critical axe-core rule."""
    results = AXE.run(page).response
    return [
        f"{rule['id']} ({rule['impact']}): {rule['help']} at {', '.join(map(str, node['target']))}"
        f" -- {node['failureSummary']}"
        for rule in results["violations"]
        if rule["impact"] in FAILING_IMPACTS
        for node in rule["nodes"]
    ]


@pytest.mark.parametrize("name", PAGES)
def test_a_page_has_no_serious_accessibility_violations(
    name: str, importer_page: Page, importer: User, catalogue: ImportBatch
) -> None:
    page = importer_page
    if name not in SIGNED_IN:
        page.context.clear_cookies()  # seen as a visitor sees it
    page.goto(PAGES[name](importer))
    expect(page.get_by_role("heading", level=1)).to_be_visible()

    assert serious_violations(page) == []


def test_an_upload_form_with_errors_has_no_serious_accessibility_violations(
    importer_page: Page,
) -> None:
    page = importer_page
    page.goto("/upload/")
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.get_by_role("alert")).to_have_text("Choose a file or paste some BibTeX.")

    assert serious_violations(page) == []


def focus_by_tab(page: Page, selector: str, most_presses: int) -> None:
    """Press Tab from the top of the page until an element matching `selector` has focus."""
    page.locator("body").focus()
    for _ in range(most_presses):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    pytest.fail(f"{selector} not reached in {most_presses} presses of Tab")


def outline(page: Page) -> str:
    return page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return `${s.outlineStyle} ${s.outlineWidth} ${s.outlineColor}`; }"
    )


def test_the_search_box_and_facet_links_are_reached_by_tab_with_a_visible_focus_ring(
    page: Page, catalogue: ImportBatch
) -> None:
    page.goto("/")

    focus_by_tab(page, "#site-q", most_presses=3)  # after the skip link and the site name
    assert outline(page) == "solid 3px rgb(240, 165, 0)"
    page.keyboard.type("pain")
    page.keyboard.press("Enter")
    expect(page.locator(".result-count")).to_contain_text("8 articles")

    focus_by_tab(page, ".facets a", most_presses=80)
    assert outline(page) == "solid 3px rgb(240, 165, 0)"
    focused = page.evaluate("() => document.activeElement.textContent")
    page.keyboard.press("Enter")
    expect(page.get_by_role("list", name="Active filters")).to_contain_text(focused)


def test_the_skip_link_appears_on_focus_and_moves_to_the_main_content(
    page: Page, catalogue: ImportBatch
) -> None:
    page.goto("/")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).not_to_be_in_viewport()

    page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.get_by_role("main")).to_be_focused()
