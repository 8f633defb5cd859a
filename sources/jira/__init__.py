"""The Jira source: issues, sprints and Jira bugs, read with the `jira` library."""
