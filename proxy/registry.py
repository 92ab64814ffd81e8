"""Implementations chosen by URL scheme, imported lazily (one small module each)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit


class SchemeRegistry:
    """Maps the scheme of a seam's URL to the `module:attribute` that opens it."""

    def __init__(self, seam: str, setting: str, entries: Mapping[str, str]) -> None:
        self.seam = seam
        self.setting = setting
        self.entries = dict(entries)

    def scheme(self, url: str) -> str:
        scheme = urlsplit(url).scheme
        if scheme not in self.entries:
            known = ", ".join(f"{s}://" for s in sorted(self.entries))
            raise ValueError(
                f"{self.setting}={url!r}: unknown {self.seam} scheme {scheme!r}; known: {known}"
            )
        return scheme

    def load(self, url: str) -> Any:
        module_name, _, attribute = self.entries[self.scheme(url)].partition(":")
        return getattr(importlib.import_module(module_name), attribute)
