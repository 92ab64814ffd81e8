"""`python -m bench` (scripts/bench): prints performance figures; nothing here passes or fails."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from pathlib import Path

# name -> (module, what it measures); run in this order.
BENCHES = {
    "pop": ("pop_latency", "ring to pop on the agent's socket, against a bare relay"),
    "throughput": ("link_throughput", "events from the bridge to 1000 agents' sockets"),
    "failover": ("failover", "primary bridge lost to standby connected"),
    "tasks": ("task_writes", "Task writes per second; call end to Task"),
    "csta": ("csta_link", "CSTA XML: events/s decoded and applied, command round trip"),
    "oig": ("oig_link", "OIG: events/s polled and applied, command round trip"),
    "ami": ("ami_link", "AMI: events/s parsed and applied, command round trip"),
    "page": ("page_load", "softphone page: time to interactive, bytes"),
    "scale": ("scale", "N agents online: memory, connects, rings, stalls, a sign-in storm"),
    "import": (
        "import_agents",
        "`agents import` of N generated rows, as one command: passwords, then ready hashes",
    ),
    "cluster": ("cluster", "3 node processes: pop via a node without the link; takeover"),
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/bench")
    parser.add_argument(
        "--agents", type=int, help="agents: 100 for pop latency, 1,000 for scale (10,000: big)"
    )
    parser.add_argument("--calls", type=int, default=300, help="calls per latency row")
    parser.add_argument("--throughput-agents", type=int, default=1000)
    parser.add_argument(
        "--storm", type=int, default=1000, help="scale: password sign-ins in the storm"
    )
    parser.add_argument(
        "--profile", type=Path, help="scale: py-spy the proxy, one profile per phase, here"
    )
    parser.add_argument("--only", choices=sorted(BENCHES), help="run one benchmark")
    args = parser.parse_args()
    for name, (module_name, what) in BENCHES.items():
        if args.only not in (None, name):
            continue
        module = importlib.import_module(f"bench.{module_name}")
        run: Callable[..., None] = module.run
        print(f"\n== {name}: {what}")
        if name == "pop":
            run(agents=args.agents or 100, calls=args.calls)
        elif name == "scale":
            run(args.agents or 1000, args.calls, args.storm, profile_dir=args.profile)
        elif name == "import":
            run(rows=args.agents or 1000)
        elif name == "throughput":
            run(agents=args.throughput_agents)
        else:
            run()


if __name__ == "__main__":
    main()
