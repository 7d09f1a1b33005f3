-- listener_leave: a listener stops; its unfinished jobs go back to the queue.
CREATE OR REPLACE FUNCTION piw.listener_leave(listener text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_was_awake boolean;
    v_returned  integer;
BEGIN
    UPDATE piw.jobs j
       SET state = 'pending', locked_by = NULL, locked_until = NULL, run_after = now()
     WHERE j.state = 'running' AND j.locked_by = listener_leave.listener;
    GET DIAGNOSTICS v_returned = ROW_COUNT;
    DELETE FROM piw.listeners l WHERE l.listener_id = listener_leave.listener
    RETURNING l.awake INTO v_was_awake;
    -- The awake lock, if this session holds it (see piw.listener_heartbeat): let go first, so
    -- that enqueuers from now on notify.
    IF piw._holds_awake_lock() THEN
        PERFORM pg_advisory_unlock_shared(1885959938, 1);
        v_was_awake := true;
    END IF;
    IF coalesce(v_was_awake, false) AND NOT pg_try_advisory_xact_lock(1885959938, 0) THEN
        -- Enqueuers that saw us awake skipped NOTIFY and have not all committed (see
        -- piw._wake_listeners). Rather than wait for them, holding back every enqueuer behind
        -- us, we leave the mark of a dead listener: the others' heartbeats clear it once those
        -- have committed, and wake the living then (see piw.listener_heartbeat).
        INSERT INTO piw.listeners (listener_id, awake, seen_at)
        VALUES (listener_leave.listener, true, '-infinity');
    END IF;
    IF coalesce(v_was_awake, false) OR v_returned > 0 THEN
        PERFORM pg_notify('piw_jobs', '');
    END IF;
END
$$;

COMMENT ON FUNCTION piw.listener_leave(text) IS
'For listeners: forget listener and put the jobs it still holds back in the queue, to be claimed at once by another listener (NOTIFY wakes the others when there is something for them). Called on the session of the listener''s heartbeats, it lets go of the awake lock too; work queued by transactions that counted on it and have not committed yet is left to the other listeners'' heartbeats (its row stays, as a dead listener''s, until they have).';
