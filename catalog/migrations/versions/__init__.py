"""Migration scripts, oldest first; 0001_initial is hand-written and checked against the models."""
