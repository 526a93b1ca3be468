"""The data resource catalogue: seed, model, coverage and the services built on it."""
