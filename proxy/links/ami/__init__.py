"""Asterisk AMI: a small asyncio client on the reconnecting link."""
