"""The base exception of every package: a kind says what a caller should do about it."""

from __future__ import annotations


class HubError(Exception):
    """Base error. `kind` is "fatal" (stop and fix), "retriable" (try again) or "skippable"."""

    kind = "fatal"

    def __init__(self, message: str, *, kind: str | None = None):
        super().__init__(message)
        if kind is not None:
            self.kind = kind


class ConfigError(HubError):
    """Settings are wrong; the message lists every problem and where it was read."""


class KafkaSetupError(HubError):
    """The local broker cannot be resolved, started or reached."""
