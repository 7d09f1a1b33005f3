-- V002: the durable work queue that the listener daemon carries out on disk.

CREATE TABLE piw.jobs (
    job_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN (
                     'home', 'search', 'simple_root', 'simple', 'project',
                     'simple_all', 'project_all', 'delete_wheel', 'delete_package')),
    package      text NOT NULL DEFAULT '',
    filename     text NOT NULL DEFAULT '',
    state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'failed')),
    attempts     integer NOT NULL DEFAULT 0,
    run_after    timestamptz NOT NULL DEFAULT now(),
    locked_by    text,
    locked_until timestamptz,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- the enqueuing transaction: lets a transaction skip targets it already queued itself
    xact         xid8 NOT NULL DEFAULT pg_current_xact_id(),
    CHECK ((state = 'running') = (locked_by IS NOT NULL AND locked_until IS NOT NULL))
);
COMMENT ON TABLE piw.jobs IS 'disk work: one row per page to write or path to delete; pending rows for the same target are coalesced';
COMMENT ON COLUMN piw.jobs.kind IS 'home, search, simple_root: one page each; simple, project: one package''s pages; simple_all, project_all: every package; delete_wheel: simple/PACKAGE/FILENAME; delete_package: a package''s directories';
COMMENT ON COLUMN piw.jobs.locked_until IS 'lease: a running job whose lease ran out (its listener died) is claimed again';

-- Coalescing happens when work is claimed, not when it is queued: a claim takes one pending row of a
-- target and deletes the other pending rows of that target it can see, which are all committed, so
-- the render that follows sees their data. Folding a request into an existing pending row inside the
-- requesting transaction would not be safe: a listener could claim and render that row before the
-- request's own data commits. At most one row per target runs at a time.
CREATE INDEX jobs_pending_target ON piw.jobs (kind, package, filename, xact) WHERE state = 'pending';
CREATE UNIQUE INDEX jobs_running_target ON piw.jobs (kind, package, filename) WHERE state = 'running';
CREATE INDEX jobs_claim_order ON piw.jobs (run_after, job_id) WHERE state = 'pending';
CREATE INDEX jobs_lease ON piw.jobs (locked_until) WHERE state = 'running';

-- Listeners say here whether they are awake (draining the queue) so that enqueuers can skip NOTIFY,
-- whose commit lock would otherwise serialize every admin call (see piw._wake_listeners).
CREATE TYPE piw.job_target AS (kind text, package text, filename text);
COMMENT ON TYPE piw.job_target IS 'what a job works on: its kind, package and filename ('''' where not applicable)';

CREATE TABLE piw.listeners (
    listener_id text PRIMARY KEY,
    awake       boolean NOT NULL DEFAULT true,
    seen_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE piw.listeners IS 'running listener daemons; awake = draining the queue and sure to look again before sleeping';
