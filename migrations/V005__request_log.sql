-- V005: admin calls append to a request log instead of inserting jobs.
--
-- Every job row carried three indexes and three CHECK constraints, and every admin call paid for
-- them (an index insert each, and the constraints are parsed again for every statement): an admin
-- call cost several plain INSERTs. A request is now one row of a table without indexes or
-- constraints. The listener, under the claim lock, moves all committed requests into piw.jobs in
-- one statement, one job per target: a request for a target that already has a pending, due job is
-- folded into it (both are committed and neither has started, so one render covers both); one for
-- a target that is being written becomes a job of its own (the page is written again).

CREATE TABLE piw.requests (
    kind         text NOT NULL,
    package      text NOT NULL DEFAULT '',
    filename     text NOT NULL DEFAULT '',
    requested_at timestamptz NOT NULL DEFAULT now()
) WITH (
    -- The listener deletes every row it sees: vacuum after a thousand, not after a fifth of a table
    -- that is nearly always empty (a scan of it passes every dead row until then).
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 1000
);
COMMENT ON TABLE piw.requests IS 'disk work asked for and not yet taken by a listener (piw.claim_jobs moves it into piw.jobs); written only by piw''s routines';
COMMENT ON COLUMN piw.requests.kind IS 'as piw.jobs.kind';
COMMENT ON COLUMN piw.requests.requested_at IS 'start of the requesting transaction: the job''s created_at';

-- The transaction that queued a job no longer matters: duplicates within a transaction are folded
-- when they are moved.
DROP INDEX piw.jobs_pending_target;
ALTER TABLE piw.jobs DROP COLUMN xact;
CREATE INDEX jobs_pending_target ON piw.jobs (kind, package, filename) WHERE state = 'pending';
