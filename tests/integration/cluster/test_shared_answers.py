"""The shared answers under the lookups, on real Redis: what a failed load leaves, and a Redis
out of reach."""

from __future__ import annotations

import logging

import pytest

from proxy.cluster.answers import RedisAnswers
from tests.redis_db import redis_bus_url, redis_prefix


async def test_a_failed_load_leaves_no_answer_and_the_next_asker_loads() -> None:
    async with redis_prefix() as prefix, RedisAnswers(redis_bus_url(prefix)) as answers:

        async def fails() -> object:
            raise RuntimeError("Salesforce said 503")

        async def loads() -> object:
            return [[{"Id": "003A", "Name": "Maria Chen"}]]

        with pytest.raises(RuntimeError, match="503"):
            await answers.answer("search:maria", 60, fails)
        assert await answers.answer("search:maria", 60, loads) == [
            [{"Id": "003A", "Name": "Maria Chen"}]
        ]

        async def not_asked() -> object:
            raise AssertionError("a kept answer must not be loaded again")

        assert await answers.answer("search:maria", 60, not_asked) == await loads()


async def test_with_redis_out_of_reach_the_lookup_still_asks_salesforce(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A pop matters more than the API call it saves: the load runs, and the log says why."""
    async with RedisAnswers("redis://127.0.0.1:1/0?prefix=x:") as answers:

        async def loads() -> object:
            return [["found"]]

        with caplog.at_level(logging.WARNING, logger="proxy.cluster.answers"):
            assert await answers.answer("search:x", 60, loads) == [["found"]]
        assert "shared lookup cache unreachable" in caplog.text
