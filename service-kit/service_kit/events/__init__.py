"""The event backbone: contracts, CloudEvents envelope, transactional outbox, inbox consumers."""
