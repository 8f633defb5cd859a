"""Admin for the normalized models, one module per topic."""

from tracking.admin import activity, audit, bugs, people, projects  # noqa: F401
