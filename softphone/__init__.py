"""The pure core of softphone-proxy: call model, matching plans and pop decisions.

Nothing here performs I/O: no sockets, no HTTP, no database. Everything is unit-testable.
"""
