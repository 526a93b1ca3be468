"""The warehouse: Kafka → Parquet landing (exactly once in effect), the DuckDB warehouse with
raw.* views, incrementally merged staging.* tables and mart.* views, and the `hub land` /
`hub warehouse` commands."""
