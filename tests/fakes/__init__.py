"""Fake upstream HTTP servers for tests and benchmarks (see README.md in this folder).

Django-free except `records_stream` and `fixtures`, so a fake runs in a bare child process.
"""

from __future__ import annotations

from tests.fakes.app import FakeApp, HTTPError, Request, Response
from tests.fakes.faults import ALL_FAULT_KINDS, FaultKind, Faults
from tests.fakes.pagination import cursor_page, link_header, numbered_page
from tests.fakes.server import FakeServer, RecordedRequest, SubprocessFakeServer

__all__ = [
    "ALL_FAULT_KINDS",
    "FakeApp",
    "FakeServer",
    "FaultKind",
    "Faults",
    "HTTPError",
    "RecordedRequest",
    "Request",
    "Response",
    "SubprocessFakeServer",
    "cursor_page",
    "link_header",
    "numbered_page",
]
