"""`python -m bench` (scripts/bench): prints performance figures; nothing here passes or fails."""

from __future__ import annotations

import argparse

from bench import failover, link_throughput, pop_latency, task_writes


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/bench")
    parser.add_argument("--agents", type=int, default=100, help="agents for pop latency")
    parser.add_argument("--calls", type=int, default=300, help="calls per pop-latency row")
    parser.add_argument("--throughput-agents", type=int, default=1000)
    parser.add_argument(
        "--only", choices=["pop", "throughput", "failover", "tasks"], help="run one benchmark"
    )
    args = parser.parse_args()
    if args.only in (None, "pop"):
        pop_latency.run(agents=args.agents, calls=args.calls)
    if args.only in (None, "throughput"):
        link_throughput.run(agents=args.throughput_agents)
    if args.only in (None, "failover"):
        failover.run()
    if args.only in (None, "tasks"):
        task_writes.run()


if __name__ == "__main__":
    main()
