"""The ground every other package stands on: settings, the local time zone, Kafka clients and the local
broker, topic names, the record envelope and events, errors, file locks and atomic writes."""
