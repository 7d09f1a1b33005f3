-- _enqueue: queue disk work in the caller's transaction and wake a listener if none is awake.
CREATE OR REPLACE FUNCTION piw._enqueue(targets piw.job_target[])
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- Every admin call comes through here. With the targets as a parameter the planner would plan
-- the insert afresh on every call (a custom plan always looks cheaper than the generic one);
-- the generic plan (index probes per target) suits one target and thousands alike.
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_queued integer;
BEGIN
    -- Plain inserts: concurrent callers never wait for each other here (see the comment on
    -- piw.jobs_pending_target). Targets this transaction already queued are skipped, so a bulk
    -- import of many statements in one transaction queues each page once.
    INSERT INTO piw.jobs (kind, package, filename)
    SELECT DISTINCT t.kind, coalesce(t.package, ''), coalesce(t.filename, '')
      FROM unnest(_enqueue.targets) AS t
     WHERE NOT EXISTS (
           SELECT 1 FROM piw.jobs j
            WHERE j.state = 'pending'
              AND j.kind = t.kind
              AND j.package = coalesce(t.package, '')
              AND j.filename = coalesce(t.filename, '')
              AND j.xact = pg_current_xact_id());
    GET DIAGNOSTICS v_queued = ROW_COUNT;
    IF v_queued > 0 THEN
        PERFORM piw._wake_listeners();
    END IF;
    RETURN v_queued;
END
$$;

COMMENT ON FUNCTION piw._enqueue(piw.job_target[]) IS 'internal: queue jobs for these targets in the current transaction (skipping ones it queued already) and wake a listener; returns how many rows were queued';
