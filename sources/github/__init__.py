"""The GitHub source: repositories, commits, issues and pull requests, read with PyGithub.

Modules: `models` (credentials with their rate budget), `credentials` (which
token a sync uses), `client` (requests with budget, ETags and backoff),
`normalize` (GitHub payloads → rows; pure, shared with the webhooks), `streams`
(the four registered streams).
"""
