"""CSTA XML (ECMA-323) over TCP: the link, its codec, events and agent states."""
