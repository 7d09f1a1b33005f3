-- _release_absent_listeners_jobs: the jobs of listeners that are gone go back to the queue now.
CREATE OR REPLACE FUNCTION piw._release_absent_listeners_jobs(listener text, max_attempts integer)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v_released integer := 0;
BEGIN
    -- Jobs of listeners whose presence session has ended (killed, host lost, session
    -- terminated) go back to the queue now, not when their lease runs out; the living are woken
    -- to take them. (A listener alive but stuck keeps its presence: its jobs wait for the lease.)
    -- The look at pg_locks is made only when another listener runs something. A job that has
    -- lost its listener max_attempts times fails, as in piw.claim_jobs: it may be what kills them.
    IF EXISTS (SELECT 1 FROM piw.jobs r WHERE r.state = 'running' AND r.locked_by <> _release_absent_listeners_jobs.listener) THEN
        WITH released AS (
            UPDATE piw.jobs j
               SET state = CASE WHEN j.attempts >= _release_absent_listeners_jobs.max_attempts THEN 'failed' ELSE 'pending' END,
                   last_error = CASE WHEN j.attempts >= _release_absent_listeners_jobs.max_attempts
                                     THEN format('lease lost %s times (listener %s gone)', j.attempts, j.locked_by)
                                     ELSE j.last_error END,
                   locked_by = NULL, locked_until = NULL, run_after = now()
             WHERE j.state = 'running'
               AND j.locked_by = ANY (ARRAY(SELECT piw._absent_listeners()))
            RETURNING j.state)
        SELECT count(*) FILTER (WHERE r.state = 'pending') INTO v_released FROM released r;
        IF v_released > 0 THEN
            PERFORM pg_notify('piw_jobs', '');
        END IF;
    END IF;
    RETURN v_released;
END
$$;

COMMENT ON FUNCTION piw._release_absent_listeners_jobs(text, integer) IS 'internal: put the running jobs of listeners whose presence session has ended (other than listener, the caller) back in the queue and wake the living, or fail those that lost their listener max_attempts times; returns how many went back';
