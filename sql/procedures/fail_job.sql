-- fail_job: a listener could not do a job; retry it later, or give up.
CREATE OR REPLACE FUNCTION piw.fail_job(
    job_id bigint, listener text, error text, retry_in interval,
    kind text DEFAULT NULL, package text DEFAULT NULL, filename text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE piw.jobs j
       SET state = CASE WHEN fail_job.retry_in IS NULL THEN 'failed' ELSE 'pending' END,
           run_after = now() + coalesce(fail_job.retry_in, interval '0'),
           last_error = left(fail_job.error, 2000),
           locked_by = NULL, locked_until = NULL
     WHERE j.job_id = fail_job.job_id
       AND j.state = 'running'
       AND j.locked_by = fail_job.listener;
    IF FOUND THEN
        RETURN true;
    END IF;
    -- Fenced (see piw.complete_job): whatever part of the job we did may be older than what the
    -- listener that took it over did.
    PERFORM piw._requeue(fail_job.kind, fail_job.package, fail_job.filename);
    RETURN false;
END
$$;

COMMENT ON FUNCTION piw.fail_job(bigint, text, text, interval, text, text, text) IS
'For listeners: the job (of this kind, package and filename) failed with error. Retry it after retry_in, or, when retry_in is null, mark it failed for good (until piw.retry_failed). False if the job was no longer leased to this listener: the target (when given) is queued again (see piw.complete_job).';
