"""Connectors: one small source kind per connector kind (sql, file, http, mqtt), a runner that owns
the Kafka producer, state and the DLQ, and the departments' synthetic source systems (`synthetic/`)."""
