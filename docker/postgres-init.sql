-- Two databases on one Postgres: Airflow's metadata and the hub's catalogue, each owned by its own
-- login role so that neither service can read or break the other's tables.
--
-- The postgres image runs this once, as the superuser, when the data volume is empty
-- (/docker-entrypoint-initdb.d). Passwords come from the container environment (docker/.env via
-- compose.yaml), so none is written here; psql reads them with \getenv (psql 15+).
\set ON_ERROR_STOP on

\getenv airflow_password AIRFLOW_DB_PASSWORD
\getenv catalog_password CATALOG_DB_PASSWORD

\if :{?airflow_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'AIRFLOW_DB_PASSWORD is not set: copy docker/.env.example to docker/.env and fill it in'; END $$;
\endif
\if :{?catalog_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'CATALOG_DB_PASSWORD is not set: copy docker/.env.example to docker/.env and fill it in'; END $$;
\endif

CREATE ROLE airflow LOGIN PASSWORD :'airflow_password';
CREATE DATABASE airflow OWNER airflow ENCODING 'UTF8' TEMPLATE template0;

CREATE ROLE catalog LOGIN PASSWORD :'catalog_password';
CREATE DATABASE catalog OWNER catalog ENCODING 'UTF8' TEMPLATE template0;

-- By default every role may connect to every database; keep each role to its own.
REVOKE CONNECT, TEMPORARY ON DATABASE airflow FROM PUBLIC;
REVOKE CONNECT, TEMPORARY ON DATABASE catalog FROM PUBLIC;
