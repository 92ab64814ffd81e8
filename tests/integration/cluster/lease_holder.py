"""A node that only contends for the link lease: `python -m tests.integration.cluster.lease_holder
DATABASE_URL NODE`. It prints `held <token>` or `lost` at each change, and runs until killed."""

from __future__ import annotations

import asyncio
import sys

from proxy.cluster.lease import LinkLease


def report(token: int | None) -> None:
    print("lost" if token is None else f"held {token}", flush=True)


async def main(database_url: str, node: str) -> None:
    async with LinkLease(database_url, node, on_change=report):
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
