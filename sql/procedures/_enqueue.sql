-- _enqueue: log requests for disk work in the caller's transaction and wake a listener if none is awake.
CREATE OR REPLACE FUNCTION piw._enqueue(targets piw.job_target[])
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_xact   text;
    v_queued integer;
BEGIN
    -- Every admin call comes through here, so it does the least it can: one insert into a table
    -- without indexes or constraints (see piw.requests). Concurrent callers never wait for each
    -- other. Duplicates (a bulk import queues a package's pages once per statement) are folded when
    -- a listener moves the requests into piw.jobs.
    INSERT INTO piw.requests (kind, package, filename)
    SELECT t.kind, coalesce(t.package, ''), coalesce(t.filename, '')
      FROM unnest(_enqueue.targets) AS t;
    GET DIAGNOSTICS v_queued = ROW_COUNT;
    -- Once per transaction: the wake decision (a NOTIFY at commit, or the shared wake lock held to
    -- the end) covers everything the transaction queues afterwards. The transaction-local mark
    -- says whether it was made. (A caller who forges the mark only loses its own wake-up; the
    -- listener's fallback poll still finds the work.)
    v_xact := pg_current_xact_id()::text;
    IF v_queued > 0 AND current_setting('piw.enqueued_in', true) IS DISTINCT FROM v_xact THEN
        PERFORM pg_catalog.set_config('piw.enqueued_in', v_xact, true);
        PERFORM piw._wake_listeners();
    END IF;
    RETURN v_queued;
END
$$;

COMMENT ON FUNCTION piw._enqueue(piw.job_target[]) IS 'internal: log requests for these targets (piw.requests) in the current transaction and wake a listener once per transaction; returns how many were logged';
