-- complete_job: a listener finished a job.
CREATE OR REPLACE FUNCTION piw.complete_job(
    job_id bigint, listener text, kind text DEFAULT NULL, package text DEFAULT NULL, filename text DEFAULT NULL)
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
    IF FOUND THEN
        RETURN true;
    END IF;
    -- Fenced: our lease passed (we were paused, or our presence session ended) and the job may
    -- have been done since by another listener, from rows newer than the ones we wrote from. What
    -- we wrote may land after what it wrote: the target is done again, from the rows as they are.
    PERFORM piw._requeue(complete_job.kind, complete_job.package, complete_job.filename);
    RETURN false;
END
$$;

COMMENT ON FUNCTION piw.complete_job(bigint, text, text, text, text) IS
'For listeners: the job (of this kind, package and filename) is done; forget it. False if the job was no longer leased to this listener (it stalled past its lease, or its presence session ended, and another listener took the job): what it wrote may be older than what the other wrote, so the target (when given) is queued again.';
