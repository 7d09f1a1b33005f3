-- _release_absent_listeners_jobs: the jobs of listeners that are gone go back to the queue now.
CREATE OR REPLACE FUNCTION piw._release_absent_listeners_jobs(listener text)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v_released integer := 0;
BEGIN
    -- Jobs of listeners whose presence session has ended (killed, host lost, session
    -- terminated) go back to the queue now, not when their lease runs out; the living are woken
    -- to take them. (A listener alive but stuck keeps its presence: its jobs wait for the lease.)
    -- The look at pg_locks is made only when another listener runs something.
    IF EXISTS (SELECT 1 FROM piw.jobs r WHERE r.state = 'running' AND r.locked_by <> _release_absent_listeners_jobs.listener) THEN
        UPDATE piw.jobs j
           SET state = 'pending', locked_by = NULL, locked_until = NULL, run_after = now()
         WHERE j.state = 'running'
           AND j.locked_by = ANY (ARRAY(SELECT piw._absent_listeners()));
        GET DIAGNOSTICS v_released = ROW_COUNT;
        IF v_released > 0 THEN
            PERFORM pg_notify('piw_jobs', '');
        END IF;
    END IF;
    RETURN v_released;
END
$$;

COMMENT ON FUNCTION piw._release_absent_listeners_jobs(text) IS 'internal: put the running jobs of listeners whose presence session has ended (other than listener, the caller) back in the queue and wake the living; returns how many';
