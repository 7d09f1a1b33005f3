-- listener_status: the listeners that have said they run, and what each holds.
CREATE OR REPLACE FUNCTION piw.listener_status()
RETURNS TABLE (listener text, awake boolean, alive boolean, seen_at timestamptz, jobs_in_hand bigint)
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Alive: its presence session is connected (what the queue itself relies on, see
    -- piw.listener_present); the heartbeat's time says how recently it spoke.
    RETURN QUERY
    SELECT l.listener_id, l.awake,
           EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = l.presence_pid),
           l.seen_at,
           (SELECT count(*) FROM piw.jobs j WHERE j.state = 'running' AND j.locked_by = l.listener_id)
      FROM piw.listeners l
     ORDER BY l.listener_id;
END
$$;

COMMENT ON FUNCTION piw.listener_status() IS
'One row per listener that has sent a heartbeat: its id (host and process), whether it is awake (draining the queue), alive (its presence session is connected), when it last spoke, and how many jobs it is running. Example: SELECT * FROM piw.listener_status();';
