-- retry_jobs: put one failed job, or a package's, back in the queue.
CREATE OR REPLACE PROCEDURE piw.retry_jobs(package text DEFAULT NULL, job_id bigint DEFAULT NULL)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_package text := CASE WHEN retry_jobs.package IS NOT NULL THEN piw._package_arg(retry_jobs.package) END;
    v_state   text;
    v_retried integer;
BEGIN
    IF retry_jobs.job_id IS NOT NULL THEN
        SELECT j.state INTO v_state FROM piw.jobs j WHERE j.job_id = retry_jobs.job_id FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'job % does not exist (it was done, or cancelled)', retry_jobs.job_id
                USING ERRCODE = 'P0002';
        ELSIF v_state <> 'failed' THEN
            RAISE EXCEPTION 'job % is %, not failed', retry_jobs.job_id, v_state
                USING ERRCODE = 'PW007';
        END IF;
    END IF;
    UPDATE piw.jobs j
       SET state = 'pending', attempts = 0, run_after = now()
     WHERE j.state = 'failed'
       AND (retry_jobs.job_id IS NULL OR j.job_id = retry_jobs.job_id)
       AND (v_package IS NULL OR j.package = v_package);
    GET DIAGNOSTICS v_retried = ROW_COUNT;
    INSERT INTO piw.audit (action, package, changed)
    VALUES ('retry_jobs', v_package,
            jsonb_build_object('jobs retried', v_retried) || CASE WHEN retry_jobs.job_id IS NOT NULL
                                                                  THEN jsonb_build_object('job', retry_jobs.job_id) ELSE '{}' END);
    IF v_retried > 0 THEN
        PERFORM piw._wake_listeners();
    END IF;
    RAISE NOTICE '% failed job(s) queued again', v_retried;
END
$$;

COMMENT ON PROCEDURE piw.retry_jobs(text, bigint) IS
'Put failed jobs back in the queue with a fresh count of attempts: the one job job_id, or every failed job of package, or (both null) every failed job. P0002 for a job that does not exist (done or cancelled), PW007 for one that is not failed. Appends to piw.audit. Example: CALL piw.retry_jobs(package => ''foo''); CALL piw.retry_jobs(job_id => 42);';
