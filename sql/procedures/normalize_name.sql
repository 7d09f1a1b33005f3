-- normalize_name: the PEP 503 normalized form of a project name.
CREATE OR REPLACE FUNCTION piw.normalize_name(name text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT lower(regexp_replace(normalize_name.name, '[-_.]+', '-', 'g')) $$;

COMMENT ON FUNCTION piw.normalize_name(text) IS
'PEP 503 normalization: lower case, runs of "-", "_" and "." become one "-". normalize_name(''Foo_Bar.baz'') = ''foo-bar-baz''.';
