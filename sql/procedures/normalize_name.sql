-- normalize_name: the PEP 503 normalized form of a project name.
CREATE OR REPLACE FUNCTION piw.normalize_name(name text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
-- No SET clause, so that callers' queries inline it: a SQL function that is not inlined is parsed
-- and planned again on every call (that was a tenth of an admin call's time). Every name is
-- qualified instead, so a caller's search_path cannot change what it calls.
AS $$ SELECT pg_catalog.lower(pg_catalog.regexp_replace(normalize_name.name, '[-_.]+', '-', 'g')) $$;

COMMENT ON FUNCTION piw.normalize_name(text) IS
'PEP 503 normalization: lower case, runs of "-", "_" and "." become one "-". normalize_name(''Foo_Bar.baz'') = ''foo-bar-baz''.';
