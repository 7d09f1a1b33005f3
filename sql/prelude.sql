-- Run by piw-initdb before the migrations: the schema that holds refinery's history table, and the
-- roles that the grants (sql/grants.sql) refer to. Roles belong to the cluster, not the database.
CREATE SCHEMA IF NOT EXISTS piw;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'piw_admin') THEN
        CREATE ROLE piw_admin NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'piw_reader') THEN
        CREATE ROLE piw_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'piw_operator') THEN
        CREATE ROLE piw_operator NOLOGIN;
    END IF;
END
$$;
