"""Issue 16's goals that a scale run measures, each printed met or not with its figure."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.fleet import percentile

if TYPE_CHECKING:
    from bench.scale import ProxyRun, Side

MIB = 1024 * 1024


def goals(agents: int, proxy: ProxyRun, floor: Side) -> None:
    """Issue 16's goals that this run measures, each with the figure it was judged on."""
    p99_ratio = percentile(proxy.rings, 99) / percentile(floor.rings, 99)
    worst_phase, worst = max(proxy.stalls.items(), key=lambda item: item[1])
    storm = proxy.storm
    noise = percentile(floor.rings, 99) - percentile(floor.rings, 50)
    moved = percentile(storm.during, 99) - percentile(storm.before, 99) if storm.during else 0.0
    rows = [
        (f"ring p99 < 3x the floor at {agents:,} sockets", p99_ratio < 3, f"{p99_ratio:.2f} x"),
        (
            "RSS under 1 GiB and under 1.5x the relay's",
            proxy.rss_online < 1024 * MIB and proxy.rss_online < 1.5 * floor.rss_online,
            f"{proxy.rss_online / MIB:,.0f} MiB, {proxy.rss_online / floor.rss_online:.2f} x",
        ),
        (
            "longest loop stall < 100 ms in every phase",
            worst < 0.1,
            f"{worst_phase} {worst * 1000:,.0f} ms",
        ),
        (
            "no 500 and no dropped connection in the storm",
            storm.sign_ins.errors == 0 and storm.sign_ins.dropped == 0,
            f"{storm.sign_ins.errors} and {storm.sign_ins.dropped}",
        ),
        ("sign-ins >= 40/s", storm.sign_ins.rate >= 40, f"{storm.sign_ins.rate:.1f}/s"),
        (
            "canary's p99 moved by no more than the floor's noise (p99 - p50)",
            moved <= noise,
            f"moved {moved:+.1f} ms, noise {noise:.1f} ms",
        ),
    ]
    print("  goals:")
    for goal, met, figure in rows:
        print(f"    {'met    ' if met else 'NOT MET'}  {goal}: {figure}")
