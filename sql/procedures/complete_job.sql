-- complete_job: a listener finished a job.
CREATE OR REPLACE FUNCTION piw.complete_job(job_id bigint, listener text)
RETURNS boolean
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH done AS (
        DELETE FROM piw.jobs j
         WHERE j.job_id = complete_job.job_id
           AND j.state = 'running'
           AND j.locked_by = complete_job.listener
        RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM done)
$$;

COMMENT ON FUNCTION piw.complete_job(bigint, text) IS
'For listeners: the job is done; forget it. False if the job was no longer leased to this listener (its lease ran out and another listener took it).';
