"""SQLite hands back TEXT that is not UTF-8 (GBK bytes in a UTF-8 table) as an error that kills
the whole fetch. `TextDecoder`, used as the connection's text_factory for such a chunk, decodes
those values with `surrogateescape` into `BadText` instead: the runner then sends just that row
to the DLQ (a BadText is never a valid value of any item) and the read goes on.
"""

from __future__ import annotations

import base64

import orjson


class BadText(str):
    """A TEXT value that was not valid UTF-8 (the original bytes survive via surrogateescape)."""

    def original(self) -> bytes:
        return self.encode("utf-8", "surrogateescape")

    def problem(self) -> str:
        try:
            self.original().decode("utf-8")
        except UnicodeDecodeError as exc:
            return f"byte 0x{exc.object[exc.start]:02x} at {exc.start} is not UTF-8"
        return "not UTF-8"


class TextDecoder:
    """A sqlite3 `text_factory` that never fails; `bad_values` counts the values it could not decode."""

    def __init__(self) -> None:
        self.bad_values = 0

    def __call__(self, raw: bytes) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.bad_values += 1
            return BadText(raw.decode("utf-8", "surrogateescape"))


def _portable(value):
    if isinstance(value, BadText):
        return value.original().decode("utf-8", "backslashreplace")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"base64": base64.b64encode(bytes(value)).decode()}
    raise TypeError


def portable_json(row: dict) -> str:
    """A row as JSON text for the DLQ: undecodable text as \\xNN escapes, blobs as {"base64": …}."""
    cleaned = {
        name: _portable(v) if isinstance(v, (BadText, bytes, bytearray, memoryview)) else v for name, v in row.items()
    }
    return orjson.dumps(cleaned, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
