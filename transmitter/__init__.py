"""The booth's link to the registry: durable outbox, scheduled signed batch uploads, retries."""
