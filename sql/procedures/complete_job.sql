-- complete_job: a listener finished a job.
CREATE OR REPLACE FUNCTION piw.complete_job(job_id bigint, listener text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- PL/pgSQL keeps the plan of this statement for the session; a SQL-language function would
    -- plan it again on every call, once per job.
    DELETE FROM piw.jobs j
     WHERE j.job_id = complete_job.job_id
       AND j.state = 'running'
       AND j.locked_by = complete_job.listener;
    RETURN FOUND;
END
$$;

COMMENT ON FUNCTION piw.complete_job(bigint, text) IS
'For listeners: the job is done; forget it. False if the job was no longer leased to this listener (its lease ran out and another listener took it).';
