"""The static files every page loads are well formed (a merge once dropped a brace from app.css, which
silently unstyled every rule after it)."""

from __future__ import annotations

import re
from pathlib import Path

CSS = Path(__file__).resolve().parent.parent / "static" / "css"


def test_every_stylesheet_closes_each_block_it_opens():
    for sheet in CSS.glob("*.css"):
        text = re.sub(r"/\*.*?\*/", "", sheet.read_text(), flags=re.S)  # braces in comments do not count
        depth = 0
        for number, line in enumerate(text.splitlines(), 1):
            depth += line.count("{") - line.count("}")
            assert depth >= 0, f"{sheet.name}: a block closed twice by line {number}"
            assert depth <= 2, f"{sheet.name}: a block left open before line {number}"  # @media nests one
        assert depth == 0, f"{sheet.name}: {depth} block(s) never closed"
