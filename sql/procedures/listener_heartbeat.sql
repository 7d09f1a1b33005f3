-- listener_heartbeat: a listener says it is alive and whether it is awake; its leases are extended.
CREATE OR REPLACE FUNCTION piw.listener_heartbeat(listener text, awake boolean, lease interval DEFAULT '5 minutes')
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_dead integer;
BEGIN
    UPDATE piw.jobs j
       SET locked_until = now() + listener_heartbeat.lease
     WHERE j.state = 'running' AND j.locked_by = listener_heartbeat.listener;
    IF coalesce(listener_heartbeat.awake, false) THEN
        -- Staying awake waits for no one: the enqueuers that share-locked this row in
        -- piw._wake_listeners count on exactly that. Waiting for them (one may be a long import)
        -- would hold back the leases above until they ran out, and another listener would take
        -- over jobs still being written here.
        UPDATE piw.listeners l SET awake = true, seen_at = now()
         WHERE l.listener_id = (SELECT d.listener_id FROM piw.listeners d
                                 WHERE d.listener_id = listener_heartbeat.listener
                                   FOR UPDATE SKIP LOCKED);
        IF NOT FOUND THEN
            INSERT INTO piw.listeners (listener_id, awake, seen_at)
            VALUES (listener_heartbeat.listener, true, now())
                ON CONFLICT (listener_id) DO NOTHING;
        END IF;
    ELSE
        -- Going to sleep waits here for every transaction that share-locked this row in
        -- piw._wake_listeners and skipped NOTIFY; the listener then reads the queue once more.
        INSERT INTO piw.listeners AS l (listener_id, awake, seen_at)
        VALUES (listener_heartbeat.listener, false, now())
            ON CONFLICT (listener_id) DO UPDATE
           SET awake = excluded.awake, seen_at = excluded.seen_at;
    END IF;
    -- A listener killed while awake never reads the queue again, yet enqueuers skip NOTIFY on its
    -- account until its mark goes stale. One silent for a whole lease (listeners of one site share
    -- their settings; heartbeats come at least three times a lease) is taken for dead: its mark is
    -- cleared, once no enqueuer holds it (SKIP LOCKED: a heartbeat never waits for them), and
    -- NOTIFY wakes the living to read the queue: the work counted on the dead is visible by then.
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
    -- Rows of listeners that vanished without saying goodbye.
    DELETE FROM piw.listeners l WHERE l.seen_at < now() - interval '1 day';
END
$$;

COMMENT ON FUNCTION piw.listener_heartbeat(text, boolean, interval) IS
'For listeners: record that listener is alive and whether it is awake (draining the queue; enqueuers then skip NOTIFY), and extend the leases of its running jobs by lease. Setting awake to false waits for transactions that counted on it, so the listener must read the queue once more afterwards. A listener silent for a whole lease (at most 30 seconds) no longer counts as awake, and NOTIFY then wakes the others.';
