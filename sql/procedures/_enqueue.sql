-- _enqueue: log requests for disk work in the caller's transaction and wake a listener if none is awake.
--
-- Neither SECURITY DEFINER nor SET search_path: it runs only inside piw's own routines (the
-- procedures and the trigger functions), which are both, so it already has their owner and their
-- search_path. A SET clause here would save and restore every setting on each admin call; a role
-- that calls it directly runs it as itself and may not write piw.requests.
CREATE OR REPLACE FUNCTION piw._enqueue(targets piw.job_target[])
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v_queued integer;
BEGIN
    -- Every row change comes through here (piw.rebuild logs its few requests itself, the same
    -- way), so it does the least it can: one insert into a table without indexes or constraints
    -- (see piw.requests). Concurrent callers never wait for each
    -- other. Duplicates (a bulk import queues a package's pages once per statement) are folded when
    -- a listener moves the requests into piw.jobs.
    INSERT INTO piw.requests (kind, package, filename)
    SELECT t.kind, coalesce(t.package, ''), coalesce(t.filename, '')
      FROM unnest(_enqueue.targets) AS t;
    GET DIAGNOSTICS v_queued = ROW_COUNT;
    -- The wake decision is made on every call, not once per transaction: in a transaction that
    -- queues again, the wake lock is already held (taking it again costs nothing) and a second
    -- NOTIFY of the same channel and payload is folded into the first by the server. Remembering
    -- the decision in a transaction-local setting cost more than making it again.
    IF v_queued > 0 THEN
        PERFORM piw._wake_listeners();
    END IF;
    RETURN v_queued;
END
$$;

COMMENT ON FUNCTION piw._enqueue(piw.job_target[]) IS 'internal: log requests for these targets (piw.requests) in the current transaction and wake a listener unless one is awake (one NOTIFY per transaction at most); returns how many were logged';
