"""The GitHub Actions source: workflow runs (builds) and their jobs, read from GitHub's REST API.

A plain package, not a Django app: it reuses the GitHub source's client, credentials
and rate budget (`sources.github`), and writes `tracking.Build` / `tracking.BuildJob`.
Modules: `normalize` (run and job payloads → rows; pure, shared with the webhooks),
`streams` (`github_actions/builds` and `github_actions/build_jobs`, per repository).
"""
