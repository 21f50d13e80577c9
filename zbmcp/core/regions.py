"""Zoho's data centers: where the Books API and the accounts (OAuth) server live for each region.

Source: ../shared/zoho-books-api.md §1. Canada's accounts server is zohocloud.ca, not zoho.ca.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Region = Literal["com", "eu", "in", "com.au", "jp", "ca", "com.cn", "sa"]
REGIONS: tuple[Region, ...] = get_args(Region)


@dataclass(frozen=True)
class DataCenter:
    region: Region
    location: str  # what Zoho's OAuth redirect calls it (`location=eu`)
    accounts_url: str
    api_domain: str

    @property
    def api_base_url(self) -> str:
        return f"{self.api_domain}/books/v3"


DATA_CENTERS: dict[Region, DataCenter] = {
    "com": DataCenter("com", "us", "https://accounts.zoho.com", "https://www.zohoapis.com"),
    "eu": DataCenter("eu", "eu", "https://accounts.zoho.eu", "https://www.zohoapis.eu"),
    "in": DataCenter("in", "in", "https://accounts.zoho.in", "https://www.zohoapis.in"),
    "com.au": DataCenter("com.au", "au", "https://accounts.zoho.com.au", "https://www.zohoapis.com.au"),
    "jp": DataCenter("jp", "jp", "https://accounts.zoho.jp", "https://www.zohoapis.jp"),
    "ca": DataCenter("ca", "ca", "https://accounts.zohocloud.ca", "https://www.zohoapis.ca"),
    "com.cn": DataCenter("com.cn", "cn", "https://accounts.zoho.com.cn", "https://www.zohoapis.com.cn"),
    "sa": DataCenter("sa", "sa", "https://accounts.zoho.sa", "https://www.zohoapis.sa"),
}

# Every accounts server Zoho may redirect a login to; a client secret is only ever sent to one of these
# (or to a connection's own configured accounts_url).
KNOWN_ACCOUNTS_SERVERS: frozenset[str] = frozenset(dc.accounts_url for dc in DATA_CENTERS.values()) | {
    "https://accounts.zoho.uk"
}


def data_center(region: Region) -> DataCenter:
    return DATA_CENTERS[region]


def region_of_accounts_server(url: str) -> Region | None:
    url = url.rstrip("/")
    for dc in DATA_CENTERS.values():
        if dc.accounts_url == url:
            return dc.region
    return None
