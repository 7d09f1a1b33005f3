-- request_jobs: what is left of the work one transaction queued.
CREATE OR REPLACE FUNCTION piw.request_jobs(request_id xid8)
RETURNS TABLE (kind text, package text, filename text, state text, attempts integer, last_error text)
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Requested and not yet taken by a listener: one row per target, as the claim will fold them.
    -- Then the jobs that carry the request out (a job folds every request for its target).
    RETURN QUERY
    SELECT DISTINCT k.kind, r.package, r.filename, 'requested'::text, 0, NULL::text
      FROM piw.requests r
     CROSS JOIN LATERAL unnest(piw._request_kinds(r.kind)) AS k (kind)
     WHERE r.request_id = request_jobs.request_id
    UNION ALL
    SELECT j.kind, j.package, j.filename, j.state, j.attempts, j.last_error
      FROM piw.jobs j
     WHERE request_jobs.request_id = ANY (j.request_ids);
END
$$;

COMMENT ON FUNCTION piw.request_jobs(xid8) IS
'The work queued by one transaction (the request id: pg_current_xact_id() in that transaction, or piw.audit.request_id) that is not done yet: one row per target, state requested (not yet taken by a listener), pending, running or failed (with the last error). No rows: all of it is done. Example, from psql: BEGIN; CALL piw.remove_version(''foo'', ''1.0''); SELECT pg_current_xact_id(); COMMIT; then SELECT * FROM piw.request_jobs(''<that id>'');';

