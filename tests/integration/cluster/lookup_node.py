"""A node that only looks callers up: `python -m tests.integration.cluster.lookup_node
INSTANCE_URL CA_FILE KEY SECRET BUS_URL NUMBER COUNT`.

It signs in to the stand-in org as the proxy's integration user does (client credentials,
the real simple-salesforce client), says `ready`, waits for a line on stdin, then looks
NUMBER up COUNT times at once, as that many ringing calls would, and prints the names popped.
"""

from __future__ import annotations

import asyncio
import json
import sys

from proxy.cluster.answers import open_answers
from proxy.salesforce.auth import OAuthSession
from proxy.salesforce.client import SimpleSalesforceApi, http_session
from proxy.salesforce.lookup import RecordMatcher
from proxy.settings import Settings
from softphone.calls import Call
from softphone.events import CallState, Direction
from softphone.matching import MatchSettings


async def main(
    instance_url: str, ca_file: str, key: str, secret: str, bus_url: str, number: str, count: int
) -> None:
    settings = Settings()
    http = http_session(settings.salesforce_timeout_seconds, ca_file=ca_file)
    form = {"grant_type": "client_credentials", "client_id": key, "client_secret": secret}
    token_url = f"{instance_url}/services/oauth2/token"
    tokens = OAuthSession("client credentials", token_url, lambda: form, http)
    async with (
        SimpleSalesforceApi(tokens, http, settings.salesforce_api_version) as api,
        open_answers(bus_url) as answers,
    ):
        matcher = RecordMatcher(api, cache_seconds=300, answers=answers)
        await matcher.warm_up()
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        calls = [
            Call(f"c{i}", "1001", Direction.INBOUND, CallState.RINGING, ani=number)
            for i in range(count)
        ]
        pops = await asyncio.gather(*(matcher.match(call, MatchSettings()) for call in calls))
        print(json.dumps([[m.name for m in pop.matches] for pop in pops]), flush=True)


if __name__ == "__main__":
    *texts, count = sys.argv[1:]
    asyncio.run(main(*texts, int(count)))  # type: ignore[arg-type]
