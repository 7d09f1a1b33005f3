-- _when: a time as the error messages show it.
CREATE OR REPLACE FUNCTION piw._when(at timestamptz)
RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT to_char(_when.at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"')
$$;

COMMENT ON FUNCTION piw._when(timestamptz) IS 'internal: a time in UTC to the second, for messages';
