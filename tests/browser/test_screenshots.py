"""Screenshots of the main pages, for people to look at (nothing compares them).

They are written to `screenshots/` in pytest's temporary folder; choose it with
--basetemp (emptied first):

    .venv/bin/python -m pytest tests/browser -k screenshots --basetemp=/tmp/catalogue-pages
    # then look at /tmp/catalogue-pages/screenshots/*.png
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import BrowserContext, Page, expect

from catalogue.models import ImportBatch

from .pages import PAGES, SIGNED_IN

PNG = b"\x89PNG\r\n\x1a\n"
SIZES = {"wide": {"width": 1280, "height": 800}, "narrow": {"width": 390, "height": 844}}


def test_the_main_pages_are_saved_as_screenshots(
    importer_page: Page,
    new_context: Callable[..., BrowserContext],
    catalogue: ImportBatch,
    importer: User,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    folder = tmp_path_factory.getbasetemp() / "screenshots"
    folder.mkdir(exist_ok=True)
    signed_out = new_context().new_page()
    addresses = {name: PAGES[name](importer) for name in PAGES}  # each batch made once
    saved = []
    for size, viewport in SIZES.items():
        for name, address in addresses.items():
            page = importer_page if name in SIGNED_IN else signed_out
            page.set_viewport_size(viewport)
            page.goto(address)
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            # Responsive: at a phone's width too, nothing makes the page scroll sideways.
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{name} at {size} is {overflow} px too wide"
            path = folder / f"{size}-{name}.png"
            page.screenshot(path=path, full_page=True)
            saved.append(path)

    assert len(saved) == len(SIZES) * len(PAGES)
    assert all(path.read_bytes().startswith(PNG) for path in saved)
