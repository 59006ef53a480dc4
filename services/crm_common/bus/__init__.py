"""The NATS JetStream bus: transactional outbox and relay, idempotent durable consumers, dead letters."""
