"""Pagination the way upstreams do it: RFC 5988 Link headers (GitHub) and opaque cursors.

Both page over a list the fake already holds; a fake passes its own items.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Sequence
from typing import Any, TypeVar

from tests.fakes.app import HTTPError, Request, Response

Item = TypeVar("Item")


def link_header(links: dict[str, str]) -> str:
    """`{"next": url, "last": url}` → `<url>; rel="next", <url>; rel="last"`."""
    return ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links.items())


def numbered_page(
    request: Request,
    items: Sequence[Any],
    *,
    default_per_page: int = 30,
    max_per_page: int = 100,
) -> Response:
    """GitHub-style `?page=N&per_page=M` over `items`: a JSON list with a Link header.

    Links (prev, next, first, last) repeat the request's own query, so filters
    survive paging, and use the host the client addressed, as GitHub does.
    """
    per_page = min(max(request.int_param("per_page", default_per_page), 1), max_per_page)
    page = max(request.int_param("page", 1), 1)
    last = max(math.ceil(len(items) / per_page), 1)
    start = (page - 1) * per_page
    links: dict[str, str] = {}
    if page > 1:
        links["prev"] = request.url_with(page=page - 1, per_page=per_page)
    if page < last:
        links["next"] = request.url_with(page=page + 1, per_page=per_page)
        links["last"] = request.url_with(page=last, per_page=per_page)
    if page > 1:
        links["first"] = request.url_with(page=1, per_page=per_page)
    headers = {"Link": link_header(links)} if links else {}
    return Response.json(list(items[start : start + per_page]), headers=headers)


def encode_cursor(position: int) -> str:
    """An opaque cursor (clients must not parse it, as with Slack's and Jira's)."""
    return base64.urlsafe_b64encode(f"position:{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The position a cursor stands for; 0 for none; a 400 for a forged one."""
    if not cursor:
        return 0
    try:
        decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        label, _, position = decoded.partition(":")
        if label != "position" or not position.isdigit():
            raise ValueError(decoded)
        return int(position)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise HTTPError(400, f"invalid cursor {cursor!r}") from None


def cursor_page(
    items: Sequence[Item], cursor: str | None, limit: int
) -> tuple[list[Item], str | None]:
    """One page from `cursor` and the cursor of the next (None after the last page)."""
    start = decode_cursor(cursor)
    end = start + max(limit, 1)
    page = list(items[start:end])
    return page, (encode_cursor(end) if end < len(items) else None)
