-- plan: what the current transaction has changed and queued so far; with ROLLBACK, a dry run.
CREATE OR REPLACE FUNCTION piw.plan()
RETURNS TABLE (change text, count bigint, items text[])
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Rows, as the audit counted them (the triggers count every statement of the transaction).
    RETURN QUERY
    SELECT c.key, sum(c.value::bigint)::bigint, NULL::text[]
      FROM piw.audit a
     CROSS JOIN LATERAL jsonb_each_text(a.changed) AS c
     WHERE a.request_id = pg_current_xact_id()
       AND jsonb_typeof(a.changed -> c.key) = 'number'
     GROUP BY c.key
    UNION ALL
    -- Disk work, by kind: the wheels to delete or move, the pages to write.
    SELECT q.kind, count(*),
           (array_agg(CASE WHEN q.filename <> '' THEN q.filename ELSE q.package END ORDER BY q.package, q.filename)
                FILTER (WHERE q.filename <> '' OR q.package <> ''))[1:20]
      FROM piw.request_jobs(pg_current_xact_id()) AS q
     GROUP BY q.kind
     ORDER BY 1;
END
$$;

COMMENT ON FUNCTION piw.plan() IS
'What the current transaction has changed and queued so far: rows by table and operation (from its audit rows), and disk work by job kind (delete_wheel, simple, project, home, ...) with up to 20 of its wheels or packages. A dry run from psql: BEGIN; CALL piw.remove_version(''foo'', ''1.0''); SELECT * FROM piw.plan(); ROLLBACK; (nothing is carried out: the listener sees committed work only).';
