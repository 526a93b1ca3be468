"""Damaged text: what a GBK/UTF-8 mix-up or a character set too small leaves in free text.

Text is damaged when it holds U+FFFD (bytes a decoder could not read), "?" (a character the
source's GBK could not hold, replaced on export) or is UTF-8 read as GBK: re-encoded as GBK it
decodes as strict UTF-8 into something else — the garbling is reversible and names what it was.

Decoding alone is not proof: about one random two- or three-character GB 2312 string in 10⁴
(a name such as 濮存宝) re-encodes into valid UTF-8 too. So the recovered reading must also be the
more plausible Chinese text: the cheaper by `text_cost`, an approximate −log frequency per
character. Measured on random GB 2312 strings, that leaves 2 in 10⁶ three-character strings (none
of 2, 4, 5 or 6 characters) read as garbling, and recovers every garbled string of 2–8 characters
drawn from GB 2312 (either level), except ties such as 篱䶮 ↔ 绡变懂, which no frequency can decide.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quality.arrays import as_string_array

REPLACED = ("\ufffd", "?")


def _gb2312_rows(first: int, last: int) -> frozenset[str]:
    """The characters of GB 2312 rows `first`..`last` (lead bytes 0xA1–0xF7)."""
    found = set()
    for lead in range(first, last + 1):
        for trail in range(0xA1, 0xFF):
            try:
                found.add(bytes((lead, trail)).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return frozenset(found)


#: GB 2312 level 1 (3,755 characters, ≈ 99.7 % of running Chinese text) with the rows of CJK
#: punctuation (A1) and full-width ASCII (A3); level 2 (3,008 characters, ≈ 0.3 %).
COMMON = _gb2312_rows(0xB0, 0xD7) | _gb2312_rows(0xA1, 0xA1) | _gb2312_rows(0xA3, 0xA3)
LEVEL_2 = _gb2312_rows(0xD8, 0xF7)
#: ≈ −ln(share of text / characters in the class), rounded. Anything else (GBK extensions, Ext A,
#: Greek, box drawing, …) costs at least level 1 + level 2, so that one rare character never
#: outweighs a common and a level-2 one: that keeps ordinary names from reading as garbled.
COST_ASCII, COST_COMMON, COST_LEVEL_2, COST_RARE = 0, 8, 14, 22


def text_cost(text: str) -> int:
    """How implausible `text` is as Chinese: the sum of its characters' class costs."""
    return sum(
        COST_ASCII if ch.isascii() else COST_COMMON if ch in COMMON else COST_LEVEL_2 if ch in LEVEL_2 else COST_RARE
        for ch in text
    )


def utf8_read_as_gbk(text: str) -> str | None:
    """The text `text` was before UTF-8 bytes were read as GBK, or None if it is not such garbling:
    `text` must re-encode as GBK into strict UTF-8, and that reading must be printable and cheaper
    by `text_cost` (欧思 → ŷ˼ and 濮存宝 → 䡰䰡 are names, not garbling)."""
    try:
        original = text.encode("gbk").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None
    if original == text or any(unicodedata.category(ch)[0] == "C" for ch in original):
        return None
    return original if text_cost(original) < text_cost(text) else None


def is_intact_text(value: Any) -> bool:
    """A string with no replacement marks and no UTF-8-read-as-GBK garbling; non-strings: False."""
    if not isinstance(value, str):
        return False
    return not any(mark in value for mark in REPLACED) and utf8_read_as_gbk(value) is None


def intact_text_mask(values: Any) -> np.ndarray:
    """Vectorised `is_intact_text`: the marks by Arrow; the GBK round trip once per distinct non-ASCII value."""
    strings = as_string_array(values)
    ok = pc.is_valid(strings)
    for mark in REPLACED:
        ok = pc.and_(ok, pc.invert(pc.match_substring(strings, mark)))
    garbled, _ = garbled_texts(strings)
    return pc.fill_null(ok, False).to_numpy(zero_copy_only=False) & ~garbled


def garbled_texts(values: Any) -> tuple[np.ndarray, pa.StringArray]:
    """Which values are UTF-8 read as GBK (a numpy bool array) and, in row order, what they were.
    ASCII never is: only distinct non-ASCII values take the Python round trip."""
    strings = as_string_array(values)
    garbled = np.zeros(len(strings), dtype=bool)
    suspects = ~pc.fill_null(pc.string_is_ascii(strings), True).to_numpy(zero_copy_only=False)
    if not suspects.any():
        return garbled, pa.array([], pa.string())
    candidates = strings.filter(pa.array(suspects))
    distinct = pc.unique(candidates)
    originals = pa.array([utf8_read_as_gbk(text) for text in distinct.to_pylist()], pa.string())
    recovered = pc.take(originals, pc.index_in(candidates, value_set=distinct))
    hits = pc.is_valid(recovered)
    garbled[np.flatnonzero(suspects)] = hits.to_numpy(zero_copy_only=False)
    return garbled, recovered.filter(hits)
