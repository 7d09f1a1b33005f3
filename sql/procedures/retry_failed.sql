-- retry_failed: put every failed job back in the queue.
CREATE OR REPLACE PROCEDURE piw.retry_failed()
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_retried integer;
BEGIN
    UPDATE piw.jobs j
       SET state = 'pending', attempts = 0, run_after = now()
     WHERE j.state = 'failed';
    GET DIAGNOSTICS v_retried = ROW_COUNT;
    INSERT INTO piw.audit (action, changed) VALUES ('retry_failed', jsonb_build_object('jobs retried', v_retried));
    IF v_retried > 0 THEN
        PERFORM piw._wake_listeners();
    END IF;
    RAISE NOTICE '% failed job(s) queued again', v_retried;
END
$$;

COMMENT ON PROCEDURE piw.retry_failed() IS
'Put every failed job back in the queue with a fresh count of attempts (after fixing what made them fail: a full disk, a permission). Appends to piw.audit. See also piw.retry_jobs and piw.cancel_jobs. Example: CALL piw.retry_failed();';
