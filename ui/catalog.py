"""The list of pages, in the order of a lecture. ``app.py`` builds the navigation from it
and the home page describes it, so a page is declared once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageInfo:
    path: str  # relative to the repository root
    title: str
    icon: str
    url_path: str
    teaches: str  # one or two sentences for the home page


HOME = PageInfo(
    "pages/home.py", "Home", ":material/home:", "home",
    "What each page teaches, and the image every page works on.",
)

#: The lesson pages, in the order a lecture uses them.
LESSON: list[PageInfo] = []


def all_pages() -> list[PageInfo]:
    return [HOME, *LESSON]
