"""A small reader of the HTML pages uhr4k writes (the bench report, the demo's report): what a test
checks on them without a browser."""
from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path


class PageParser(HTMLParser):
    """Collects image sources, links, tables (cells as text, with their ``data-source`` CSV) and the
    warning banners (``<div class="banner">``, one entry each)."""

    def __init__(self):
        super().__init__()
        self.images, self.links, self.tables, self.banners = [], [], [], []
        self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        elif tag == "a":
            self.links.append(attrs["href"])
        elif tag == "table":
            self.tables.append({"source": attrs.get("data-source"), "rows": []})
        elif tag == "tr":
            self.tables[-1]["rows"].append([])
        elif tag in ("td", "th"):
            self._cell = ""
        elif tag == "div" and attrs.get("class") == "banner":
            self.banners.append("")

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1]["rows"][-1].append(self._cell)
            self._cell = None


def parse_page(path) -> PageParser:
    """The parsed page at ``path``."""
    page = PageParser()
    page.feed(Path(path).read_text(encoding="utf-8"))
    return page
