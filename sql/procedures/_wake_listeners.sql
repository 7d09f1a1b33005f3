-- _wake_listeners: NOTIFY piw_jobs unless a listener is awake and sure to look at the queue again.
CREATE OR REPLACE FUNCTION piw._wake_listeners()
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    -- NOTIFY takes a cluster-wide lock at commit, so transactions that notify commit one at a time.
    -- When a listener is awake we skip it, holding the wake lock (advisory key 1885959938, 0 =
    -- 0x70697702) shared until we commit instead: shared holders never wait for each other and
    -- nothing is written. A listener going to sleep first records that, then takes the lock
    -- exclusively (piw.listener_heartbeat), so it waits for every enqueuer that may have seen it
    -- awake, and then reads the queue once more and finds their work. The lock comes before the
    -- read: an enqueuer that gets it after a listener's sleep sees that listener asleep.
    -- A transaction that reads from an older snapshot (REPEATABLE READ, SERIALIZABLE) could see a
    -- listener awake that has since gone to sleep: it always notifies. A listener that stopped
    -- heartbeating does not count as awake.
    IF current_setting('transaction_isolation') = 'read committed' THEN
        -- Tried first as a plain expression: a PERFORM starts an executor. piw.rebuild makes
        -- this same decision written out (keep the two alike).
        IF NOT pg_try_advisory_xact_lock_shared(1885959938, 0) THEN
            PERFORM pg_advisory_xact_lock_shared(1885959938, 0);
        END IF;
        IF EXISTS (SELECT 1 FROM piw.listeners l
                    WHERE l.awake
                      AND l.seen_at > now() - interval '30 seconds') THEN
            RETURN;
        END IF;
    END IF;
    PERFORM pg_notify('piw_jobs', '');
END
$$;

COMMENT ON FUNCTION piw._wake_listeners() IS 'internal: NOTIFY piw_jobs, unless an awake listener is certain to see this transaction''s work without it (the transaction then holds the wake lock, advisory key (1885959938, 0), shared until it ends)';
