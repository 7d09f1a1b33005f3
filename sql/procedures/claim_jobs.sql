-- claim_jobs: hand a listener up to max_jobs targets to work on, each leased for a while.
CREATE OR REPLACE FUNCTION piw.claim_jobs(
    listener text, max_jobs integer DEFAULT 16, lease interval DEFAULT '5 minutes', max_attempts integer DEFAULT 10)
RETURNS TABLE (job_id bigint, kind text, package text, filename text, attempts integer)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- A listener's session keeps the plans of these statements, made at its first claim, usually while
-- the queue was empty: the planner then takes every table for one row, scans whole tables and
-- sorts them rather than use their indexes, and those plans stay when the queue holds thousands of
-- jobs (a claim then compared every pending job with every other: seconds). Without sequential
-- scans and sorts, each statement below walks an index whatever size the tables had when it was
-- planned; the one statement whose work is a join of two sets is planned afresh on every claim.
-- JIT off: the cost of the disabled plans would start it.
SET enable_seqscan = off
SET enable_sort = off
SET jit = off
AS $$
DECLARE
    v_job      piw.jobs%ROWTYPE;
    v_attempts integer;
    v_created  timestamptz;
    v_requests xid8[];
BEGIN
    IF claim_jobs.listener IS NULL OR claim_jobs.listener = '' THEN
        RAISE EXCEPTION 'listener must not be empty' USING ERRCODE = '22023';
    END IF;
    -- Claims take milliseconds and listeners are few: serializing them makes "no other row of
    -- this target is running" a fact rather than a race between two claimers. A table of piw's
    -- own: no other role can take the lock (an advisory key could be held by anyone).
    LOCK TABLE piw.claim_lock IN EXCLUSIVE MODE;

    -- A running job whose listener is gone (its presence session ended: at once) or whose lease
    -- ran out (a listener alive but stuck) goes to someone else, unless it has already killed its
    -- listeners too often.
    PERFORM piw._release_lost_jobs(claim_jobs.listener, claim_jobs.max_attempts, true);

    -- Committed requests become jobs, one per target. A request for a target with a pending, due
    -- job is folded into it: both are committed and neither has started, so the render that
    -- follows that job's claim covers both (its created_at becomes the older one, and it carries
    -- out both requests: their ids join its request_ids, which --wait follows).
    -- A job in backoff after a failure is not joined (the request would wait out the backoff), and
    -- a running one never is: the request becomes a job of its own and the page is written again.
    -- Executed from a constant string, so planned afresh on every claim with the sizes the request
    -- log and the queue have now (a burst of admin calls leaves tens of thousands of requests for
    -- thousands of targets).
    EXECUTE $move$
        WITH moved AS (
            DELETE FROM piw.requests r
            RETURNING r.kind, r.package, r.filename, r.requested_at, r.request_id),
        -- A request of kind 'index' (piw.rebuild, the triggers) stands for a package's simple and
        -- project pages: a job for each.
        targets AS (
            SELECT k.kind, m.package, m.filename, min(m.requested_at) AS requested_at,
                   array_agg(DISTINCT m.request_id) AS request_ids
              FROM moved m
             CROSS JOIN LATERAL unnest(piw._request_kinds(m.kind)) AS k (kind)
             GROUP BY k.kind, m.package, m.filename),
        folded AS (
            UPDATE piw.jobs j
               SET created_at = least(j.created_at, t.requested_at),
                   request_ids = piw._union_ids(j.request_ids, t.request_ids)
              FROM targets t
             WHERE j.state = 'pending' AND j.run_after <= now()
               AND j.kind = t.kind AND j.package = t.package AND j.filename = t.filename)
        -- The jobs folded into are exactly the pending, due jobs of these targets as this
        -- statement sees them (the update's own changes are not visible here): probed through the
        -- index, not compared with the updated rows. A job that turns pending meanwhile (a
        -- listener leaving) is seen by neither: its target gets a second pending job, coalesced
        -- with the first when claimed.
        INSERT INTO piw.jobs (kind, package, filename, created_at, request_ids)
        SELECT t.kind, t.package, t.filename, t.requested_at, t.request_ids
          FROM targets t
         WHERE NOT EXISTS (SELECT 1 FROM piw.jobs p
                            WHERE p.state = 'pending' AND p.run_after <= now()
                              AND p.kind = t.kind AND p.package = t.package AND p.filename = t.filename)
    $move$;

    -- A job waits while a conflicting one runs (see piw._jobs_conflict): one writer per page at a
    -- time, so an older render can never land after a newer one.
    FOR i IN 1 .. claim_jobs.max_jobs LOOP
        -- A package's own work first (its wheels, its pages: what an admin waits for), and in
        -- turn with it the pages about the whole site once they have waited a second: under a
        -- steady stream of package work they would otherwise never run (and every request that
        -- includes them, a removal's, would never be done).
        SELECT * INTO v_job
          FROM piw.jobs j
         WHERE j.state = 'pending'
           AND j.run_after <= now()
           AND (j.kind NOT IN ('home', 'search', 'simple_root') OR j.created_at < now() - interval '1 second')
           AND NOT EXISTS (SELECT 1 FROM piw.jobs r
                            WHERE r.state = 'running'
                              AND piw._jobs_conflict(r.kind, r.package, r.filename, j.kind, j.package, j.filename))
         ORDER BY j.run_after, j.job_id
         LIMIT 1
           FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            -- The pages about the whole site read whole tables (the search index counts every
            -- download): they wait until no package's work is running, so that they neither hold
            -- a removal back nor run once per removal (requests meanwhile coalesce), unless they
            -- have waited a second already.
            SELECT * INTO v_job
              FROM piw.jobs j
             WHERE j.state = 'pending'
               AND j.run_after <= now()
               AND j.kind IN ('home', 'search', 'simple_root')
               AND (j.created_at < now() - interval '1 second'
                    OR NOT EXISTS (SELECT 1 FROM piw.jobs r
                                    WHERE r.state = 'running'
                                      AND r.kind IN ('simple', 'project', 'delete_wheel', 'delete_package', 'place_wheel')))
               AND NOT EXISTS (SELECT 1 FROM piw.jobs r
                                WHERE r.state = 'running'
                                  AND piw._jobs_conflict(r.kind, r.package, r.filename, j.kind, j.package, j.filename))
             ORDER BY j.run_after, j.job_id
             LIMIT 1
               FOR UPDATE SKIP LOCKED;
            EXIT WHEN NOT FOUND;
        END IF;

        -- Coalesce: every other pending request for this target that we can see has committed,
        -- so the render that follows this claim covers it.
        WITH covered AS (
            DELETE FROM piw.jobs d
             WHERE d.state = 'pending' AND d.kind = v_job.kind
               AND d.package = v_job.package AND d.filename = v_job.filename
               AND d.job_id <> v_job.job_id
            RETURNING d.attempts, d.created_at, d.request_ids)
        SELECT greatest(v_job.attempts, max(c.attempts)), least(v_job.created_at, min(c.created_at)),
               ARRAY(SELECT DISTINCT ids.id FROM covered c2 CROSS JOIN LATERAL unnest(c2.request_ids) AS ids (id))
          INTO v_attempts, v_created, v_requests
          FROM covered c;

        UPDATE piw.jobs j
           SET state = 'running', attempts = coalesce(v_attempts, v_job.attempts) + 1,
               created_at = coalesce(v_created, v_job.created_at),
               request_ids = piw._union_ids(v_job.request_ids, v_requests),
               locked_by = claim_jobs.listener, locked_until = now() + claim_jobs.lease
         WHERE j.job_id = v_job.job_id
        RETURNING j.job_id, j.kind, j.package, j.filename, j.attempts
             INTO claim_jobs.job_id, claim_jobs.kind, claim_jobs.package, claim_jobs.filename, claim_jobs.attempts;
        RETURN NEXT;
    END LOOP;
END
$$;

COMMENT ON FUNCTION piw.claim_jobs(text, integer, interval, integer) IS
'For listeners: move committed requests (piw.requests) into jobs, one per target, then claim up to max_jobs runnable targets (oldest first, none that conflicts with a running job: see piw._jobs_conflict; home, search and simple_root only while no package''s job runs, or once they have waited a second), coalescing each target''s pending requests into one job, leased to listener for lease. Running jobs whose listener is gone (see piw.listener_present) or whose lease ran out are first made pending again (or failed after max_attempts). Finish each with piw.complete_job or piw.fail_job.';
