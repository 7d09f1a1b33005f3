-- _wake_listeners: NOTIFY piw_jobs if a listener is asleep; otherwise count on the awake ones.
CREATE OR REPLACE FUNCTION piw._wake_listeners()
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    -- NOTIFY takes a cluster-wide lock at commit, so transactions that notify commit one at a
    -- time; we skip it unless a listener sleeps. The protocol is one table lock, piw.wake_lock,
    -- which only piw's routines can take:
    --
    -- * a listener goes to sleep by taking it SHARE (piw.listener_sleep, without waiting) on its
    --   presence session, and holds it while it sleeps; once it has it, it reads the queue once
    --   more, then waits for NOTIFY;
    -- * an enqueuer takes it ROW EXCLUSIVE, without waiting, and holds it until it ends. Granted,
    --   no listener sleeps: every live listener is awake, and none can go to sleep (SHARE
    --   conflicts with ROW EXCLUSIVE) before we have ended, so the look at the queue it makes
    --   then finds our work: we skip NOTIFY. Refused, a listener sleeps: we notify.
    --
    -- Enqueuers never wait for each other (ROW EXCLUSIVE does not conflict with itself), never
    -- wait for a listener, and nothing is written. With no listener at all we skip NOTIFY too:
    -- a listener reads the queue when it starts. piw.rebuild makes this same decision written
    -- out (a unit test in src/schema.rs holds the two alike).
    BEGIN
        LOCK TABLE piw.wake_lock IN ROW EXCLUSIVE MODE NOWAIT;
    EXCEPTION WHEN lock_not_available THEN
        PERFORM pg_notify('piw_jobs', '');
    END;
END
$$;

COMMENT ON FUNCTION piw._wake_listeners() IS 'internal: NOTIFY piw_jobs if a listener sleeps (holds piw.wake_lock SHARE); otherwise hold piw.wake_lock ROW EXCLUSIVE until the transaction ends, so that no awake listener can go to sleep before it has seen this transaction''s work';
