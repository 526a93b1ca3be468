"""Damaged text: what a GBK/UTF-8 mix-up or a character set too small leaves in free text.

Text is damaged when it holds U+FFFD (bytes a decoder could not read), "?" (a character the
source's GBK could not hold, replaced on export) or is UTF-8 read as GBK: re-encoded as GBK it
decodes as strict UTF-8 into something else — the garbling is reversible and names what it was.
"""
from __future__ import annotations

import re
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quality.arrays import as_string_array

REPLACED = ("\ufffd", "?")
_CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0003134f]")
_PLAUSIBLE = re.compile("[\u0020-\u007e\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef\U00020000-\U0003134f]*")


def utf8_read_as_gbk(text: str) -> str | None:
    """The text `text` was before UTF-8 bytes were read as GBK, or None if it is not such garbling.

    Some ordinary Chinese text re-encoded as GBK happens to be valid UTF-8 too (欧思 → ŷ˼, two-byte
    sequences); garbled Chinese recovers into Chinese, so the recovered text must hold CJK ideographs
    and nothing but them, ASCII and CJK punctuation."""
    try:
        original = text.encode("gbk").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None
    if original == text or not _CJK.search(original) or not _PLAUSIBLE.fullmatch(original):
        return None
    return original


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
    ok = pc.fill_null(ok, False).to_numpy(zero_copy_only=False).copy()
    suspects = ok & ~pc.fill_null(pc.string_is_ascii(strings), True).to_numpy(zero_copy_only=False)
    if suspects.any():
        candidates = strings.filter(pa.array(suspects))
        distinct = pc.unique(candidates)
        garbled = pa.array([utf8_read_as_gbk(text) is not None for text in distinct.to_pylist()], pa.bool_())
        ok[np.flatnonzero(suspects)] = ~pc.take(garbled, pc.index_in(candidates, value_set=distinct)).to_numpy(zero_copy_only=False)
    return ok
