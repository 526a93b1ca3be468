"""Hub core: settings, Kafka clients, topic names, the record envelope, local broker management."""
