-- _release_lost_jobs: running jobs whose listener is gone (or, if asked, whose lease ran out) go
-- back to the queue, or fail once they have lost their listener max_attempts times.
CREATE OR REPLACE FUNCTION piw._release_lost_jobs(listener text, max_attempts integer, lease_expired boolean)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v_released integer;
BEGIN
    -- A listener is gone when its presence session has ended (killed, host lost, session
    -- terminated): at once. A listener alive but stuck keeps its presence; its jobs wait for
    -- the lease. A job that has lost its listener max_attempts times fails: it may be what kills
    -- them. pg_locks is read (piw._absent_listeners) only when another listener runs something.
    WITH released AS (
        UPDATE piw.jobs j
           SET state = CASE WHEN j.attempts >= _release_lost_jobs.max_attempts THEN 'failed' ELSE 'pending' END,
               last_error = CASE WHEN j.attempts >= _release_lost_jobs.max_attempts
                                 THEN format('lease lost %s times (listener %s gone or stalled)', j.attempts, j.locked_by)
                                 ELSE j.last_error END,
               locked_by = NULL, locked_until = NULL, run_after = now()
         WHERE j.state = 'running'
           AND ((_release_lost_jobs.lease_expired AND j.locked_until < now())
                OR (j.locked_by <> _release_lost_jobs.listener
                    AND j.locked_by = ANY (ARRAY(SELECT piw._absent_listeners()))))
        RETURNING j.state)
    SELECT count(*) FILTER (WHERE r.state = 'pending') INTO v_released FROM released r;
    RETURN v_released;
END
$$;

COMMENT ON FUNCTION piw._release_lost_jobs(text, integer, boolean) IS 'internal: put back in the queue the running jobs of listeners whose presence session has ended (other than listener, the caller) and, with lease_expired, those whose lease ran out; fail those that lost their listener max_attempts times. Returns how many went back.';
