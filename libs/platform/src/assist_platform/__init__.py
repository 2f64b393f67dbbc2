"""What every assist service shares: the event envelope, the outbox, idempotent consumers, commands and telemetry."""
