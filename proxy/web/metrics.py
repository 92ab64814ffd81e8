"""Prometheus metrics: one registry per app, refreshed from the services at every scrape.

Counters that only grow where things happen (pops, sign-ins) are updated there; everything
that is a state (agents online, calls by state, outbox depth, API budget, link reconnects)
is read from its owner when `/metrics` is scraped, so no figure can drift from the truth.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from proxy.web.loopwatch import LoopWatch

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
        # Cluster mode: 1 on the node holding the PBX link, and the times this node took it.
        self.link_holder = Gauge(
            "softphone_link_holder", "1 while this node holds the PBX link", registry=r
        )
        self.lease_takeovers = Counter(
            "softphone_lease_takeovers", "Times this node took the PBX link's lease", registry=r
        )
        self.takeovers_counted = 0  # of the holder's own count, what the counter has had
        self.outbox = Gauge("softphone_outbox_rows", "Task writes by state", ["state"], registry=r)
        self.tasks_written = Gauge(
            "softphone_tasks_written", "Tasks written since start", registry=r
        )
        self.loop_stall = Histogram(
            "softphone_event_loop_stall_seconds",
            "How late the event loop ran a periodic tick: how long it was held",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
            registry=r,
        )
        self.gc_pause = Histogram(
            "softphone_gc_pause_seconds",
            "Garbage collections by generation, and how long each held the process",
            ["generation"],
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=r,
        )
        # Entered by the app factory, so it watches the loop that serves the app.
        self.loop_watch = LoopWatch(
            self.loop_stall.observe, lambda gen, s: self.gc_pause.labels(str(gen)).observe(s)
        )
        self.loop_stall_max = Gauge(
            "softphone_event_loop_stall_max_seconds",
            "The longest event-loop stall in the last one to two seconds",
            registry=r,
        )
        self.loop_stall_max.set_function(lambda: self.loop_watch.longest_recent_stall.seconds)
        self.loop_stall_max_cpu = Gauge(
            "softphone_event_loop_stall_max_cpu_seconds",
            "CPU the loop's thread used during that longest stall; the rest of it, the loop "
            "waited for a core or for the GIL",
            registry=r,
        )
        self.loop_stall_max_cpu.set_function(
            lambda: self.loop_watch.longest_recent_stall.cpu_seconds
        )
        self.loop_stall_max_gc = Gauge(
            "softphone_event_loop_stall_max_gc_seconds",
            "Garbage collection during that longest stall",
            registry=r,
        )
        self.loop_stall_max_gc.set_function(lambda: self.loop_watch.longest_recent_stall.gc_seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
