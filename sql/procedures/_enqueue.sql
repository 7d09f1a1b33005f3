-- _enqueue: queue disk work in the caller's transaction and wake a listener if none is awake.
CREATE OR REPLACE FUNCTION piw._enqueue(targets piw.job_target[])
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- Every admin call comes through here. With the targets as a parameter the planner would plan
-- the insert afresh on every call (a custom plan always looks cheaper than the generic one);
-- the generic plan suits one target and thousands alike, as long as it probes the index once per
-- target. A plan made while the queue was empty (merge or hash anti join, or a scan of the whole
-- queue) would be kept by the session and cost a scan of every pending row per call once the
-- queue fills: measured 270 calls/s instead of 4,500 at 16 callers with 170,000 rows pending.
SET plan_cache_mode = force_generic_plan
SET enable_mergejoin = off
SET enable_hashjoin = off
SET enable_seqscan = off
-- (enable_seqscan = off makes any scan it cannot avoid cost 1e10, which would start JIT
-- compilation: 30 ms for the listeners' one-row table.)
SET jit = off
AS $$
DECLARE
    v_xact   text := pg_current_xact_id()::text;
    v_queued integer;
BEGIN
    -- Plain inserts: concurrent callers never wait for each other here (see the comment on
    -- piw.jobs_pending_target). Targets this transaction already queued are skipped, so a bulk
    -- import of many statements in one transaction queues each page once. Most transactions
    -- queue once (one admin call): the transaction-local mark says whether there is anything to
    -- skip. (A caller who forges the mark only gets duplicate rows, which claim_jobs coalesces.)
    IF current_setting('piw.enqueued_in', true) IS DISTINCT FROM v_xact THEN
        INSERT INTO piw.jobs (kind, package, filename)
        SELECT DISTINCT t.kind, coalesce(t.package, ''), coalesce(t.filename, '')
          FROM unnest(_enqueue.targets) AS t;
        GET DIAGNOSTICS v_queued = ROW_COUNT;
        IF v_queued > 0 THEN
            PERFORM pg_catalog.set_config('piw.enqueued_in', v_xact, true);
            -- Once per transaction: the wake decision (a NOTIFY at commit, or the shared wake
            -- lock held to the end) covers everything the transaction queues afterwards.
            PERFORM piw._wake_listeners();
        END IF;
        RETURN v_queued;
    END IF;
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
    RETURN v_queued;
END
$$;

COMMENT ON FUNCTION piw._enqueue(piw.job_target[]) IS 'internal: queue jobs for these targets in the current transaction (skipping ones it queued already) and wake a listener once per transaction; returns how many rows were queued';
