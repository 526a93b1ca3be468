"""Handing freed memory back to the operating system between large steps of one process."""

from __future__ import annotations

import ctypes

import pyarrow as pa


def return_freed_memory() -> None:
    """Give freed heap back to the OS: Arrow's pool keeps what it freed, and millions of small values
    freed in the middle of the C heap otherwise stay in the RSS (glibc trims only its top)."""
    pa.default_memory_pool().release_unused()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _load_libc():
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (macOS, musl): nothing to trim
        return None


_LIBC = _load_libc()
