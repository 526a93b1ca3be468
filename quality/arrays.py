"""Input shapes for vectorised rules: whatever comes in (pyarrow array, pandas Series, numpy array,
list) becomes a pyarrow string array or a float64 numpy array, so each rule is written once."""

from __future__ import annotations

import numbers
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def as_string_array(values: Any) -> pa.StringArray:
    """`values` as a pyarrow string array; anything that is not a `str` becomes null.

    Non-strings (ints, bytes, dates) become null rather than being stringified, so that they fail
    string rules exactly as the row-wise functions make them fail.
    """
    if isinstance(values, (pd.Series, pd.Index)):
        if isinstance(values.dtype, pd.StringDtype):
            values = pa.array(values, from_pandas=True)
        else:
            values = values.to_numpy(dtype=object)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        if pa.types.is_dictionary(values.type):
            values = values.dictionary_decode()
        if pa.types.is_string(values.type):
            return values
        if pa.types.is_large_string(values.type) or pa.types.is_string_view(values.type):
            return values.cast(pa.string())
        return pa.nulls(len(values), pa.string())
    if isinstance(values, np.ndarray) and values.dtype.kind == "U":
        return pa.array(values, type=pa.string())
    # A Python loop only for untyped input (object arrays, lists): it drops non-str values.
    return pa.array([v if isinstance(v, str) else None for v in values], type=pa.string())


def regex_mask(strings: pa.StringArray, pattern: str) -> np.ndarray:
    """Boolean numpy mask: the (RE2) `pattern` matches; nulls give False."""
    matched = pc.match_substring_regex(strings, pattern).fill_null(False)
    return matched.to_numpy(zero_copy_only=False).astype(bool, copy=False)


def fixed_width_bytes(strings: pa.StringArray, ok: np.ndarray, width: int) -> np.ndarray:
    """A (n, width) uint8 view of the strings where `ok`; other rows are filled with b"0".

    Callers guarantee (by an ASCII regex) that every `ok` string is exactly `width` bytes, so the
    data buffer of the filled array is a plain n × width block of bytes.
    """
    count = len(strings)
    if count == 0:
        return np.zeros((0, width), dtype=np.uint8)
    filled = pc.if_else(pa.array(ok, type=pa.bool_()), strings, pa.scalar("0" * width))
    offsets_buf, data_buf = filled.buffers()[1], filled.buffers()[2]
    offsets = np.frombuffer(offsets_buf, dtype=np.int32)[filled.offset : filled.offset + count + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]]
    return data.reshape(count, width)


def digits_value(block: np.ndarray) -> np.ndarray:
    """The decimal value of each row of ASCII digit bytes, e.g. b"2023" -> 2023."""
    powers = 10 ** np.arange(block.shape[1] - 1, -1, -1, dtype=np.int64)
    return (block.astype(np.int64) - 48) @ powers


def to_number(value: Any) -> float:
    """A real number as float; NaN for None, bools, strings and anything else."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, Decimal)):
        return float("nan")
    return float(value)


def is_scalar(value: Any) -> bool:
    """One value rather than a column: strings and bytes count as one value."""
    if isinstance(value, np.ndarray):
        return value.ndim == 0
    return isinstance(value, (str, bytes, bytearray)) or not hasattr(value, "__len__")


def as_float_array(values: Any) -> np.ndarray:
    """`values` as float64 numpy; NaN where missing or not a number (strings are not numbers)."""
    if is_scalar(values):
        if isinstance(values, np.ndarray):
            values = values.item()
        return np.array([to_number(values)], dtype=float)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        kind = values.type
        if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
            return pc.cast(values, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
        return np.full(len(values), np.nan)
    if isinstance(values, (pd.Series, pd.Index)):
        if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
            return values.to_numpy(dtype=float, na_value=np.nan)
        values = values.to_numpy(dtype=object)
    if isinstance(values, np.ndarray) and values.dtype.kind in "iuf":
        return values.astype(float)
    return np.array([to_number(v) for v in values], dtype=float)
