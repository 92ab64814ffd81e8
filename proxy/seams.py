"""The seams' shared machinery: implementations chosen by URL scheme, imported lazily; the
one shape every link, bus, store and server piece shares (`async with` opens and closes).

A seam (CTI link, event bus, store, Salesforce) is a `typing.Protocol` in `<seam>/base.py`,
plus one module per implementation named in that seam's `SchemeRegistry`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, Protocol, Self
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


class AsyncResource(Protocol):
    """Anything the app factory opens at start and closes, in reverse order, at shutdown."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc_info: object) -> None: ...


class Resource:
    """Base for our resources: `start()` on entering, `aclose()` on leaving, even on error.

    `aclose()` cancels and awaits whatever tasks the resource started; it must be safe to call
    twice.
    """

    async def start(self) -> None:
        """Acquire connections and start background tasks; nothing by default."""

    async def aclose(self) -> None:
        """Cancel and await background tasks and release connections; nothing by default."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
