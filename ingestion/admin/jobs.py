"""Admin for jobs, the dead-letter queue, the breaker and pause."""
