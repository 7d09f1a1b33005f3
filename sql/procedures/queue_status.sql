-- queue_status: how much disk work is waiting, running and failed.
CREATE OR REPLACE FUNCTION piw.queue_status(
    OUT pending bigint, OUT running bigint, OUT failed bigint, OUT oldest_pending interval)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (SELECT count(*) FROM (SELECT j.kind, j.package, j.filename
                                    FROM piw.jobs j WHERE j.state = 'pending'
                                   UNION
                                   SELECT r.kind, r.package, r.filename
                                     FROM piw.requests r) AS targets),
           (SELECT count(*) FROM piw.jobs j WHERE j.state = 'running'),
           (SELECT count(*) FROM piw.jobs j WHERE j.state = 'failed'),
           clock_timestamp() - least((SELECT min(j.created_at) FROM piw.jobs j WHERE j.state = 'pending'),
                                     (SELECT min(r.requested_at) FROM piw.requests r))
$$;

COMMENT ON FUNCTION piw.queue_status() IS
'One row: pending (distinct targets waiting, in piw.requests or piw.jobs; coalesced requests count once), running, failed, and the age of the oldest pending request (null when none). The queue is drained when pending = 0 and running = 0. Example: SELECT * FROM piw.queue_status();';
