-- _wake_listeners: NOTIFY piw_jobs unless a listener is awake and sure to look at the queue again.
CREATE OR REPLACE FUNCTION piw._wake_listeners()
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    -- NOTIFY takes a cluster-wide lock at commit, so transactions that notify commit one at a time.
    -- We skip it while a listener is awake. An awake listener holds the awake lock (advisory key
    -- (1885959938, 1)) shared on its session (piw.listener_heartbeat): the look below reads no
    -- table and needs no snapshot, so it holds at every isolation level, and a listener that dies
    -- lets go of the lock with its session.
    --
    -- The wake lock (1885959938, 0) first, shared until we commit: a listener going to sleep lets
    -- go of the awake lock, then takes the wake lock exclusively, so it waits for every enqueuer
    -- that may have seen it awake and then reads the queue once more. An enqueuer that gets the
    -- wake lock after that sees the listener asleep. Shared holders never wait for each other and
    -- nothing is written.
    --
    -- Then the look, which never waits. The awake lock taken exclusively means nobody holds it:
    -- no listener is awake, so we notify (it is let go in the same expression, so that no error
    -- can come between and leave it held by our session). Otherwise we take it shared until we
    -- commit and skip NOTIFY: it is held shared by an awake listener, or by enqueuers that
    -- counted on one, which, going to sleep, waits for them and for us. Shared fails only while
    -- another enqueuer holds it exclusively for its own look: we notify as it does.
    --
    -- Plain expressions, not PERFORMs, where the answer is the common one: a PERFORM starts an
    -- executor. piw.rebuild makes this same decision written out (keep the two alike).
    IF NOT pg_try_advisory_xact_lock_shared(1885959938, 0) THEN
        PERFORM pg_advisory_xact_lock_shared(1885959938, 0);
    END IF;
    IF (CASE WHEN pg_try_advisory_lock(1885959938, 1) THEN pg_advisory_unlock(1885959938, 1)
             ELSE NOT pg_try_advisory_xact_lock_shared(1885959938, 1) END) THEN
        PERFORM pg_notify('piw_jobs', '');
    END IF;
END
$$;

COMMENT ON FUNCTION piw._wake_listeners() IS 'internal: NOTIFY piw_jobs, unless a listener is awake (holds the awake lock, advisory key (1885959938, 1), shared): the transaction then holds that lock and the wake lock, (1885959938, 0), shared until it ends, so that the listener, going to sleep, waits for it';
