-- listener_heartbeat: a listener says it is alive; its leases are extended; dead listeners' jobs go back.
CREATE OR REPLACE FUNCTION piw.listener_heartbeat(
    listener text, awake boolean, lease interval DEFAULT '5 minutes', presence_pid integer DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_released integer := 0;
BEGIN
    UPDATE piw.jobs j
       SET locked_until = now() + listener_heartbeat.lease
     WHERE j.state = 'running' AND j.locked_by = listener_heartbeat.listener;
    INSERT INTO piw.listeners AS l (listener_id, awake, seen_at, presence_pid)
    VALUES (listener_heartbeat.listener, coalesce(listener_heartbeat.awake, false), now(), listener_heartbeat.presence_pid)
        ON CONFLICT (listener_id) DO UPDATE
       SET awake = excluded.awake, seen_at = excluded.seen_at,
           presence_pid = coalesce(excluded.presence_pid, l.presence_pid);

    -- Jobs of listeners whose presence session has ended (killed, host lost, session
    -- terminated) go back to the queue now, not when their lease runs out; the living are woken
    -- to take them. (A listener alive but stuck keeps its presence: its jobs wait for the lease.)
    IF EXISTS (SELECT 1 FROM piw.jobs r WHERE r.state = 'running' AND r.locked_by <> listener_heartbeat.listener) THEN
        UPDATE piw.jobs j
           SET state = 'pending', locked_by = NULL, locked_until = NULL, run_after = now()
         WHERE j.state = 'running'
           AND j.locked_by = ANY (ARRAY(SELECT piw._absent_listeners()));
        GET DIAGNOSTICS v_released = ROW_COUNT;
        IF v_released > 0 THEN
            PERFORM pg_notify('piw_jobs', '');
        END IF;
    END IF;
    -- Rows of listeners gone without a goodbye, once nothing of theirs is left.
    DELETE FROM piw.listeners l
     WHERE l.listener_id <> listener_heartbeat.listener
       AND (l.seen_at < now() - interval '1 day'
            OR (l.listener_id = ANY (ARRAY(SELECT piw._absent_listeners()))
                AND NOT EXISTS (SELECT 1 FROM piw.jobs j WHERE j.state = 'running' AND j.locked_by = l.listener_id)));
    RETURN v_released;
END
$$;

COMMENT ON FUNCTION piw.listener_heartbeat(text, boolean, interval, integer) IS
'For listeners, every few seconds: record that listener is alive (awake or asleep, as it says; presence_pid: its presence session''s process, see piw.listener_present) and extend the leases of its running jobs by lease. Jobs of listeners whose presence session has ended go back to the queue at once (NOTIFY wakes the others); returns how many.';
