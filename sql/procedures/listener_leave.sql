-- listener_leave: a listener stops; its unfinished jobs go back to the queue.
CREATE OR REPLACE FUNCTION piw.listener_leave(listener text)
RETURNS void
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE piw.jobs j
       SET state = 'pending', locked_by = NULL, locked_until = NULL, run_after = now()
     WHERE j.state = 'running' AND j.locked_by = listener_leave.listener;
    DELETE FROM piw.listeners l WHERE l.listener_id = listener_leave.listener;
$$;

COMMENT ON FUNCTION piw.listener_leave(text) IS
'For listeners: forget listener and put the jobs it still holds back in the queue, to be claimed at once by another listener.';
