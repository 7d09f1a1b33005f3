-- queue_status: how much disk work is waiting, running and failed.
--
-- PL/pgSQL rather than SQL: a SQL function with a SET clause is planned afresh on every call
-- (~0.35 ms here), a PL/pgSQL one keeps its plan for the session (~0.05 ms). Monitors, the
-- benchmark and tests poll this every few milliseconds while the listener works.
CREATE OR REPLACE FUNCTION piw.queue_status(
    OUT pending bigint, OUT running bigint, OUT failed bigint, OUT oldest_pending interval)
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    SELECT (SELECT count(*) FROM (SELECT j.kind, j.package, j.filename
                                    FROM piw.jobs j WHERE j.state = 'pending'
                                   UNION
                                   SELECT k.kind, r.package, r.filename
                                     FROM piw.requests r
                                    CROSS JOIN LATERAL unnest(piw._request_kinds(r.kind)) AS k (kind)) AS targets),
           (SELECT count(*) FROM piw.jobs j WHERE j.state = 'running'),
           (SELECT count(*) FROM piw.jobs j WHERE j.state = 'failed'),
           clock_timestamp() - least((SELECT min(j.created_at) FROM piw.jobs j WHERE j.state = 'pending'),
                                     (SELECT min(r.requested_at) FROM piw.requests r))
      INTO queue_status.pending, queue_status.running, queue_status.failed, queue_status.oldest_pending;
END
$$;

COMMENT ON FUNCTION piw.queue_status() IS
'One row: pending (distinct targets waiting, in piw.requests or piw.jobs; coalesced requests count once), running, failed, and the age of the oldest pending request (null when none). The queue is drained when pending = 0 and running = 0. Example: SELECT * FROM piw.queue_status();';
