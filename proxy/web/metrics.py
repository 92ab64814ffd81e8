"""Prometheus metrics: one registry per app, refreshed from the services at every scrape.

Counters that only grow where things happen (pops, sign-ins) are updated there; everything
that is a state (agents online, calls by state, outbox depth, API budget, link reconnects)
is read from its owner when `/metrics` is scraped, so no figure can drift from the truth.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from softphone.events import CallState

if TYPE_CHECKING:
    from proxy.services import Services

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.agents_online = Gauge(
            "softphone_agents_online", "Agents with at least one softphone page open", registry=r
        )
        self.sockets = Gauge("softphone_agent_sockets", "Open agent websockets", registry=r)
        self.calls = Gauge("softphone_calls", "Calls in progress by state", ["state"], registry=r)
        self.pop_seconds = Histogram(
            "softphone_pop_seconds",
            "From a call ringing to its pop being decided",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=r,
        )
        self.sign_ins = Counter(
            "softphone_sign_ins", "Sign-in attempts by outcome", ["outcome"], registry=r
        )
        self.api_used = Gauge(
            "softphone_salesforce_api_used", "API calls used today (org-wide)", registry=r
        )
        self.api_limit = Gauge(
            "softphone_salesforce_api_limit", "The org's daily API call limit", registry=r
        )
        self.api_remaining = Gauge(
            "softphone_salesforce_api_remaining", "API calls left today", registry=r
        )
        self.link_connected = Gauge(
            "softphone_link_connected", "1 while the CTI link is up", registry=r
        )
        self.link_reconnects = Gauge(
            "softphone_link_reconnects", "CTI link reconnects since start", registry=r
        )
        self.link_failovers = Gauge(
            "softphone_link_failovers", "CTI link failovers since start", registry=r
        )
        self.outbox = Gauge("softphone_outbox_rows", "Task writes by state", ["state"], registry=r)
        self.tasks_written = Gauge(
            "softphone_tasks_written", "Tasks written since start", registry=r
        )

    async def refresh(self, services: Services) -> None:
        online = services.pages.online
        self.agents_online.set(sum(1 for n in online.values() if n > 0))
        self.sockets.set(sum(online.values()))
        counts = services.states.call_counts()
        for state in CallState:
            if state != CallState.CLEARED:
                self.calls.labels(state.value).set(counts.get(state, 0))
        api = services.salesforce
        usage = api.api_usage if api is not None else None
        if usage is not None:
            used, limit = usage
            self.api_used.set(used)
            self.api_limit.set(limit)
            self.api_remaining.set(max(0, limit - used))
        link = services.link
        self.link_connected.set(1 if link.connected else 0)
        self.link_reconnects.set(link.reconnects)
        self.link_failovers.set(link.failovers)
        for row_state, n in (await services.store.outbox_counts()).items():
            self.outbox.labels(row_state).set(n)
        if services.writer is not None:
            self.tasks_written.set(services.writer.written)

    def render(self) -> bytes:
        return generate_latest(self.registry)
