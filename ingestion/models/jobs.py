"""Jobs, the circuit breaker and pipeline control (pause/resume)."""

__all__: list[str] = []
