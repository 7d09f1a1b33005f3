-- listener_heartbeat: a listener says it is alive and whether it is awake; its leases are extended.
CREATE OR REPLACE FUNCTION piw.listener_heartbeat(listener text, awake boolean, lease interval DEFAULT '5 minutes')
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_awake        boolean := coalesce(listener_heartbeat.awake, false);
    v_was_awake    boolean;
    v_holds_lock   boolean;
    v_lock_timeout text;
    v_dead         integer;
BEGIN
    UPDATE piw.jobs j
       SET locked_until = now() + listener_heartbeat.lease
     WHERE j.state = 'running' AND j.locked_by = listener_heartbeat.listener;
    SELECT l.awake INTO v_was_awake FROM piw.listeners l WHERE l.listener_id = listener_heartbeat.listener;

    -- Awake is what enqueuers look at: this session holding the awake lock (advisory key
    -- (1885959938, 1)) shared; see piw._wake_listeners. A session-level lock: it stays after this
    -- call, until a call that says asleep (or piw.listener_leave) on the same session lets go of
    -- it, or the session ends (a listener that dies stops counting as awake at once).
    v_holds_lock := piw._holds_awake_lock();
    IF NOT v_awake THEN
        IF v_holds_lock THEN
            PERFORM pg_advisory_unlock_shared(1885959938, 1);
            v_holds_lock := false;
            v_was_awake := true;  -- holding it, we were awake, whatever our row said
        END IF;
        -- Asleep only once every enqueuer that may have seen us awake and skipped NOTIFY has
        -- committed (they hold the wake lock, (1885959938, 0), shared until they end): the
        -- listener then reads the queue once more and finds their work, and enqueuers that come
        -- after this see us asleep. Tried, not waited for: new enqueuers would wait behind a
        -- listener waiting for the wake lock, as long as the slowest of those transactions. We
        -- stay awake instead, and the listener tries again later.
        IF coalesce(v_was_awake, false) AND NOT pg_try_advisory_xact_lock(1885959938, 0) THEN
            v_awake := true;
        END IF;
    END IF;
    IF v_awake AND NOT v_holds_lock THEN
        -- Enqueuers hold it exclusively for an instant, to look: wait for that, not longer.
        -- Without the lock this time enqueuers notify (which is always safe); the next
        -- heartbeat tries again.
        v_lock_timeout := current_setting('lock_timeout');
        BEGIN
            PERFORM set_config('lock_timeout', '1s', true);
            PERFORM pg_advisory_lock_shared(1885959938, 1);
            PERFORM set_config('lock_timeout', v_lock_timeout, true);
        EXCEPTION WHEN lock_not_available THEN
            RAISE WARNING 'listener % could not take the awake lock: enqueuers notify meanwhile', listener_heartbeat.listener;
        END;
    END IF;
    -- Enqueuers hold no lock on this row (see piw._wake_listeners): recording our state never
    -- waits for them, so the leases above are extended however long an enqueuer's transaction is.
    INSERT INTO piw.listeners AS l (listener_id, awake, seen_at)
    VALUES (listener_heartbeat.listener, v_awake, now())
        ON CONFLICT (listener_id) DO UPDATE
       SET awake = excluded.awake, seen_at = excluded.seen_at;

    -- A listener killed while awake lets go of the awake lock with its session, so enqueuers
    -- notify again at once; but the work of those that counted on it just before is seen by
    -- nobody, until a listener reads the queue. One silent for a whole lease (listeners of one
    -- site share their settings; heartbeats come at least three times a lease) is taken for dead:
    -- its mark is cleared once no enqueuer is between its look and its commit (the wake lock is
    -- free; a heartbeat never waits for one: it tries again next time), and NOTIFY wakes the
    -- living to read the queue: the work counted on the dead is visible by then.
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
    -- Rows of listeners that vanished without saying goodbye (once taken for dead, above).
    DELETE FROM piw.listeners l WHERE NOT l.awake AND l.seen_at < now() - interval '1 day';
    RETURN v_awake;
END
$$;

COMMENT ON FUNCTION piw.listener_heartbeat(text, boolean, interval) IS
'For listeners: record that listener is alive and whether it is awake (draining the queue: enqueuers then skip NOTIFY), and extend the leases of its running jobs by lease; returns whether it is awake now. Awake takes the awake lock (advisory key (1885959938, 1)) shared on this session, for as long as the session lasts: a listener makes every call of its own on one session. Asleep lets go of it, once every transaction that counted on the listener has ended; until then the listener stays awake (the call returns true) and should try again later. Once asleep, the listener must read the queue once more. A listener silent for a whole lease (at most 30 seconds) is taken for dead, and NOTIFY then wakes the others.';
