"""One module per CTI link's test peer; each defines `NAME` (its scheme) and `PEER` (a class).

`tests/integration/links/link_peers.py` collects them into `PEERS`, so every link module added here
runs the whole link contract without editing the contract tests.
"""
