-- _extend_leases: a living listener keeps the jobs it runs.
CREATE OR REPLACE FUNCTION piw._extend_leases(listener text, lease interval)
RETURNS void
LANGUAGE sql
AS $$
    UPDATE piw.jobs j
       SET locked_until = now() + _extend_leases.lease
     WHERE j.state = 'running' AND j.locked_by = _extend_leases.listener;
$$;

COMMENT ON FUNCTION piw._extend_leases(text, interval) IS 'internal: extend by lease the leases of the jobs listener runs (see piw.listener_heartbeat)';
