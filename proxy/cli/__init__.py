"""The `softphone-proxy` command: one module per subcommand, each registering itself.

serve, demo      proxy.cli.serve        the proxy (and the demo's simulator, org and console)
simulate call    proxy.cli.simulate     ring an agent from the built-in PBX simulator
callcenter-xml   proxy.cli.callcenter   the call center definition for Salesforce
agents ...       proxy.cli.agents       the roster
check            proxy.cli.check        the doctor (its checks: proxy.cli.doctor)
support-bundle   proxy.cli.bundle       a zip for a support case, secrets redacted
outbox           proxy.cli.outbox       Task writes still owed to Salesforce
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from proxy.cli import agents, bundle, callcenter, check, outbox, serve, simulate

COMMANDS = (serve, simulate, callcenter, agents, check, bundle, outbox)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="softphone-proxy", description=__doc__.split("\n")[0])
    commands = root.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(commands)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
