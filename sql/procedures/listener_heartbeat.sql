-- listener_heartbeat: a listener says it is alive; its leases are extended; dead listeners' jobs go back.
CREATE OR REPLACE FUNCTION piw.listener_heartbeat(
    listener text, awake boolean, lease interval DEFAULT '5 minutes', presence_pid integer DEFAULT NULL,
    max_attempts integer DEFAULT 10)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_released integer;
BEGIN
    PERFORM piw._extend_leases(listener_heartbeat.listener, listener_heartbeat.lease);
    INSERT INTO piw.listeners AS l (listener_id, awake, seen_at, presence_pid)
    VALUES (listener_heartbeat.listener, coalesce(listener_heartbeat.awake, false), now(), listener_heartbeat.presence_pid)
        ON CONFLICT (listener_id) DO UPDATE
       SET awake = excluded.awake, seen_at = excluded.seen_at,
           presence_pid = coalesce(excluded.presence_pid, l.presence_pid);
    -- Jobs of listeners that are gone go back now, not when their lease runs out; the living are
    -- woken to take them.
    v_released := piw._release_lost_jobs(listener_heartbeat.listener, listener_heartbeat.max_attempts, false);
    IF v_released > 0 THEN
        PERFORM pg_notify('piw_jobs', '');
    END IF;
    PERFORM piw._forget_gone_listeners(listener_heartbeat.listener);
    RETURN v_released;
END
$$;

COMMENT ON FUNCTION piw.listener_heartbeat(text, boolean, interval, integer, integer) IS
'For listeners, every few seconds: record that listener is alive (awake or asleep, as it says; presence_pid: its presence session''s process, see piw.listener_present) and extend the leases of its running jobs by lease. Jobs of listeners whose presence session has ended go back to the queue at once (NOTIFY wakes the others), or fail once they have lost their listener max_attempts times (as in piw.claim_jobs); returns how many went back.';
