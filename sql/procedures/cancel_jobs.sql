-- cancel_jobs: drop a package's work that has not started.
CREATE OR REPLACE PROCEDURE piw.cancel_jobs(package text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_package   text := piw._package_arg(cancel_jobs.package);
    v_requests  integer;
    v_cancelled integer;
BEGIN
    -- Both forms of waiting work: requests not yet moved by a listener, and pending or failed jobs.
    -- A running job is left to finish (its listener holds it under a lease).
    DELETE FROM piw.requests r WHERE r.package = v_package;
    GET DIAGNOSTICS v_requests = ROW_COUNT;
    DELETE FROM piw.jobs j WHERE j.package = v_package AND j.state IN ('pending', 'failed');
    GET DIAGNOSTICS v_cancelled = ROW_COUNT;
    INSERT INTO piw.audit (action, package, changed)
    VALUES ('cancel_jobs', v_package, jsonb_build_object('requests cancelled', v_requests, 'jobs cancelled', v_cancelled));
    RAISE NOTICE '% job(s) and % request(s) of package % cancelled', v_cancelled, v_requests, v_package;
END
$$;

COMMENT ON PROCEDURE piw.cancel_jobs(text) IS
'Cancel the pending and failed jobs of a package, and its requests not yet taken by a listener (running jobs finish). The pages and wheels they were for stay as they are on disk until the next request for them; CALL piw.rebuild(''index'', package) puts its pages right, a full rebuild of the index the whole tree. Appends to piw.audit. Example: CALL piw.cancel_jobs(''foo'');';
