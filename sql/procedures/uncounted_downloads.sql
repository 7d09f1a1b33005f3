-- uncounted_downloads: the downloads logged since the last count, per file and UTC day.
CREATE OR REPLACE FUNCTION piw.uncounted_downloads()
RETURNS TABLE (filename text, day date, downloads bigint)
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_counted pg_snapshot;
    v_from    bigint;
BEGIN
    SELECT c.counted INTO STRICT v_counted FROM piw.download_counting c;
    v_from := pg_snapshot_xmin(v_counted)::text::bigint;
    -- v_from is a value when this query is planned (PL/pgSQL plans it for the values at hand),
    -- so the planner sees how few rows lie above it and takes the BRIN index: a parameter of a
    -- single SQL statement would be estimated at a third of the log, and the log scanned. As a
    -- STABLE function, it reads in its caller's snapshot: the counts the caller reads agree.
    RETURN QUERY
    SELECT d.filename, (d.accessed_at AT TIME ZONE 'UTC')::date, count(*)
      FROM piw.downloads d
     WHERE d.logged_xid >= v_from
       AND NOT pg_visible_in_snapshot(d.logged_xid::text::xid8, v_counted)
     GROUP BY d.filename, (d.accessed_at AT TIME ZONE 'UTC')::date;
END
$$;

COMMENT ON FUNCTION piw.uncounted_downloads() IS
'The downloads logged by transactions the last piw.count_downloads() did not see (still running then, or begun since), per file and UTC day: what the pages add to piw.download_counts. Example: SELECT sum(downloads) FROM piw.uncounted_downloads();';
