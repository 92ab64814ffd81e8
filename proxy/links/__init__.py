"""CTI links, one module per PBX protocol, chosen by the scheme of SOFTPHONE_CTI_URL."""

from __future__ import annotations

from proxy.links.base import CtiLink, LinkCommand, split_urls
from proxy.seams import SchemeRegistry

LINKS = SchemeRegistry(
    "CTI link",
    "SOFTPHONE_CTI_URL",
    {
        "sim": "proxy.links.bridge:open_simulator_link",
        "bridge+ws": "proxy.links.bridge:open_bridge_link",
        "bridge+wss": "proxy.links.bridge:open_bridge_link",
        "csta": "proxy.links.csta.link:open_csta_link",
        "oig+https": "proxy.links.oig.link:open_oig_link",
        "oig+http": "proxy.links.oig.link:open_oig_link",
        "ami": "proxy.links.ami.link:open_ami_link",
    },
)


def open_link(url: str, *, self_url: str) -> CtiLink:
    """The link for `url` (a comma-separated pair is primary, then standby); `self_url` is
    where this proxy listens, for the built-in simulator."""
    opener = LINKS.load(split_urls(url)[0])
    link: CtiLink = opener(url, self_url=self_url)
    return link


__all__ = ["LINKS", "CtiLink", "LinkCommand", "open_link", "split_urls"]
