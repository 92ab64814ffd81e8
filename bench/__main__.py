"""`python -m bench` (scripts/bench): prints performance figures; nothing here passes or fails."""

from __future__ import annotations

import argparse

from bench import pop_latency


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/bench")
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    pop_latency.run(agents=args.agents, calls=args.calls)


if __name__ == "__main__":
    main()
