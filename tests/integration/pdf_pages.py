"""A printed PDF page by page, as a reader sees it: each page rendered to PNG (poppler's pdftoppm) and
its text lines with their positions (pdftotext -bbox-layout), so tests can judge the layout."""

from __future__ import annotations

import re
import subprocess
import unicodedata
from dataclasses import dataclass
from html import unescape
from pathlib import Path

from PIL import Image

_PAGE = re.compile(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', re.S)
_LINE = re.compile(r'<line xMin="[\d.]+" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">(.*?)</line>', re.S)
_WORD = re.compile(r"<word [^>]*>(.*?)</word>", re.S)
# Below this share of the page height holding ink, a page reads as (nearly) empty.
MIN_INKED_SHARE = 0.15


@dataclass
class Line:
    top: float
    bottom: float
    text: str


@dataclass
class Page:
    number: int
    height: float
    lines: list[Line]
    png: Path
    inked_share: float  # from the first to the last row with ink, as a share of the page height

    @property
    def last_line(self) -> Line | None:
        return max(self.lines, key=lambda line: line.bottom, default=None)


def _normal(text: str) -> str:
    # NFKC: the CJK font maps some characters to Kangxi radicals on extraction (⽬ for 目); no spaces.
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", unescape(text)))


def text_lines(pdf: Path) -> list[tuple[float, list[Line]]]:
    """(page height, lines top to bottom) per page."""
    xhtml = subprocess.run(
        ["pdftotext", "-bbox-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    pages = []
    for _width, height, body in _PAGE.findall(xhtml):
        lines = [
            Line(float(top), float(bottom), _normal("".join(_WORD.findall(words))))
            for top, bottom, words in _LINE.findall(body)
        ]
        pages.append((float(height), sorted((line for line in lines if line.text), key=lambda line: line.top)))
    return pages


def inked_share(png: Path) -> float:
    """Share of the page's height between its first and last row that is not white."""
    image = Image.open(png).convert("L")
    width, height = image.size
    pixels = image.load()
    inked = [y for y in range(height) if any(pixels[x, y] < 235 for x in range(0, width, 2))]
    return (inked[-1] - inked[0] + 1) / height if inked else 0.0


def pages_of(pdf: Path, artifacts: Path) -> list[Page]:
    """Every page of `pdf`, rendered to `artifacts`/page-N.png (kept as test artifacts)."""
    artifacts.mkdir(parents=True, exist_ok=True)
    for old in artifacts.glob("page-*.png"):  # a longer report rendered here before
        old.unlink()
    subprocess.run(["pdftoppm", "-png", "-r", "50", str(pdf), str(artifacts / "page")], check=True)
    pngs = sorted(artifacts.glob("page-*.png"), key=lambda path: int(path.stem.rsplit("-", 1)[1]))
    texts = text_lines(pdf)
    assert len(pngs) == len(texts), f"pdftoppm drew {len(pngs)} pages, pdftotext read {len(texts)}"
    return [
        Page(number, height, lines, png, inked_share(png))
        for number, ((height, lines), png) in enumerate(zip(texts, pngs), start=1)
    ]
