-- listener_heartbeat: a listener says it is alive and whether it is awake; its leases are extended.
CREATE OR REPLACE FUNCTION piw.listener_heartbeat(listener text, awake boolean, lease interval DEFAULT '5 minutes')
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_was_awake boolean;
    v_dead      integer;
BEGIN
    UPDATE piw.jobs j
       SET locked_until = now() + listener_heartbeat.lease
     WHERE j.state = 'running' AND j.locked_by = listener_heartbeat.listener;
    SELECT l.awake INTO v_was_awake FROM piw.listeners l WHERE l.listener_id = listener_heartbeat.listener;
    -- Enqueuers hold no lock on this row (see piw._wake_listeners): recording our state never
    -- waits for them, so the leases above are extended however long an enqueuer's transaction is.
    INSERT INTO piw.listeners AS l (listener_id, awake, seen_at)
    VALUES (listener_heartbeat.listener, coalesce(listener_heartbeat.awake, false), now())
        ON CONFLICT (listener_id) DO UPDATE
       SET awake = excluded.awake, seen_at = excluded.seen_at;
    IF coalesce(v_was_awake, false) AND NOT coalesce(listener_heartbeat.awake, false) THEN
        -- Going to sleep waits here for every enqueuer that may have seen us awake and skipped
        -- NOTIFY (they hold the wake lock shared until they end); the listener then reads the
        -- queue once more and finds their work. Enqueuers that come after this see us asleep.
        PERFORM pg_advisory_xact_lock(1885959938, 0);
    END IF;
    -- A listener killed while awake never reads the queue again, yet enqueuers skip NOTIFY on its
    -- account until its mark goes stale. One silent for a whole lease (listeners of one site share
    -- their settings; heartbeats come at least three times a lease) is taken for dead: its mark is
    -- cleared once no enqueuer is between reading it and committing (the wake lock is free; a
    -- heartbeat never waits for one: it tries again next time), and NOTIFY wakes the living to
    -- read the queue: the work counted on the dead is visible by then.
    IF EXISTS (SELECT 1 FROM piw.listeners d
                WHERE d.awake
                  AND d.listener_id <> listener_heartbeat.listener
                  AND d.seen_at < now() - least(listener_heartbeat.lease, interval '30 seconds'))
       AND pg_try_advisory_xact_lock(1885959938, 0) THEN
        WITH dead AS (
            UPDATE piw.listeners l SET awake = false
             WHERE l.listener_id IN (
                   SELECT d.listener_id FROM piw.listeners d
                    WHERE d.awake
                      AND d.listener_id <> listener_heartbeat.listener
                      AND d.seen_at < now() - least(listener_heartbeat.lease, interval '30 seconds')
                      FOR UPDATE SKIP LOCKED)
            RETURNING 1)
        SELECT count(*) INTO v_dead FROM dead;
        IF v_dead > 0 THEN
            PERFORM pg_notify('piw_jobs', '');
        END IF;
    END IF;
    -- Rows of listeners that vanished without saying goodbye.
    DELETE FROM piw.listeners l WHERE l.seen_at < now() - interval '1 day';
END
$$;

COMMENT ON FUNCTION piw.listener_heartbeat(text, boolean, interval) IS
'For listeners: record that listener is alive and whether it is awake (draining the queue; enqueuers then skip NOTIFY), and extend the leases of its running jobs by lease. Setting awake to false waits for transactions that counted on it, so the listener must read the queue once more afterwards. A listener silent for a whole lease (at most 30 seconds) no longer counts as awake, and NOTIFY then wakes the others.';
