-- listener_leave: a listener stops; its unfinished jobs go back to the queue.
CREATE OR REPLACE FUNCTION piw.listener_leave(listener text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_returned integer;
BEGIN
    UPDATE piw.jobs j
       SET state = 'pending', locked_by = NULL, locked_until = NULL, run_after = now()
     WHERE j.state = 'running' AND j.locked_by = listener_leave.listener;
    GET DIAGNOSTICS v_returned = ROW_COUNT;
    DELETE FROM piw.listeners l WHERE l.listener_id = listener_leave.listener;
    IF v_returned > 0 THEN
        PERFORM pg_notify('piw_jobs', '');
    END IF;
END
$$;

COMMENT ON FUNCTION piw.listener_leave(text) IS
'For listeners: forget listener and put the jobs it still holds back in the queue, to be claimed at once by another listener (NOTIFY wakes the others when there is something for them). The listener then ends its presence session.';
