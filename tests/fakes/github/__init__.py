"""A fake GitHub: the REST API (repositories, branches, commits, issues, pulls, Actions
workflow runs and jobs, rate limits, conditional requests) and the OAuth app flow, on one
FakeServer root.

    github = FakeGitHub(repositories=3, commits=30)
    server = fake_server(github.app)
    Github(auth=Auth.Token("ghp_test"), base_url=server.url).get_repo("acme/repo-000")

or in its own process (benchmarks):
`python -m tests.fakes.serve tests.fakes.github:create_app --options '{"repositories": 100}'`.

Modules: `data` (generated records in GitHub's shapes), `actions` (workflow runs and
jobs), `fake` (FakeGitHub: data, mutators, tokens), `limits` (rate limits, ETags),
`routes` and `actions_routes` (REST endpoints), `oauth` (the OAuth endpoints).
"""

from __future__ import annotations

from typing import Any

from tests.fakes.app import FakeApp
from tests.fakes.github.fake import FakeGitHub


def create_app(**options: Any) -> FakeApp:
    """Factory for `python -m tests.fakes.serve tests.fakes.github:create_app`."""
    if "branches" in options:
        options["branches"] = tuple(options["branches"])
    return FakeGitHub(**options).app


__all__ = ["FakeGitHub", "create_app"]
