-- fail_job: a listener could not do a job; retry it later, or give up.
CREATE OR REPLACE FUNCTION piw.fail_job(job_id bigint, listener text, error text, retry_in interval)
RETURNS boolean
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH failed AS (
        UPDATE piw.jobs j
           SET state = CASE WHEN fail_job.retry_in IS NULL THEN 'failed' ELSE 'pending' END,
               run_after = now() + coalesce(fail_job.retry_in, interval '0'),
               last_error = left(fail_job.error, 2000),
               locked_by = NULL, locked_until = NULL
         WHERE j.job_id = fail_job.job_id
           AND j.state = 'running'
           AND j.locked_by = fail_job.listener
        RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM failed)
$$;

COMMENT ON FUNCTION piw.fail_job(bigint, text, text, interval) IS
'For listeners: the job failed with error. Retry it after retry_in, or, when retry_in is null, mark it failed for good (until piw.retry_failed). False if the job was no longer leased to this listener.';
