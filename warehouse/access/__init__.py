"""Analyst access to the warehouse: rights per role, PII masking, the DuckDB sandbox, the audit trail."""
