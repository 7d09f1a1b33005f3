-- V010: piw's locks are locks on tables of its own schema, which no other role can lock.
--
-- piw used advisory locks on fixed keys (the wake and awake locks, the claim lock, the wheels
-- locks), and any role that can log in may take any advisory key: one with no grant at all could
-- stop every admin call and every listener's claim. These tables hold no rows (but wheel_locks'
-- fixed slots); what they are for is their table or row locks, taken only by piw's own routines
-- (no role but their owner has a privilege on them, and locking needs one).

CREATE TABLE piw.wake_lock ();
COMMENT ON TABLE piw.wake_lock IS 'holds no rows; its table lock is the wake-up protocol (see piw._wake_listeners): a sleeping listener holds it SHARE on its presence session, an enqueuer that skipped NOTIFY holds it ROW EXCLUSIVE until it ends';

CREATE TABLE piw.claim_lock ();
COMMENT ON TABLE piw.claim_lock IS 'holds no rows; piw.claim_jobs locks it EXCLUSIVE: one claim at a time';

CREATE TABLE piw.listener_presence ();
COMMENT ON TABLE piw.listener_presence IS 'holds no rows; a live listener''s presence session holds it ACCESS SHARE (see piw.listener_present): a listener whose session no longer does is gone, and its jobs go back to the queue at once';

CREATE TABLE piw.wheel_locks (
    slot integer PRIMARY KEY CHECK (slot BETWEEN 0 AND 1023)
);
INSERT INTO piw.wheel_locks (slot) SELECT s FROM generate_series(0, 1023) AS s;
COMMENT ON TABLE piw.wheel_locks IS 'a package''s wheels on disk are guarded by the row of its slot (see piw.lock_wheels): importers hold it FOR KEY SHARE from writing a wheel until they commit, a listener deleting wheels holds it FOR UPDATE';

ALTER TABLE piw.listeners ADD COLUMN presence_pid integer;
COMMENT ON COLUMN piw.listeners.presence_pid IS 'the server process of the listener''s presence session (holding piw.listener_presence); null until its first heartbeat';
COMMENT ON COLUMN piw.listeners.awake IS 'what the listener last said: awake (working or lingering) or asleep (holding piw.wake_lock, woken by NOTIFY)';
COMMENT ON TABLE piw.listeners IS 'running listener daemons, as their heartbeats say';

-- The advisory awake lock is gone; the heartbeat takes the presence session's process.
DROP FUNCTION IF EXISTS piw._holds_awake_lock();
DROP FUNCTION IF EXISTS piw.listener_heartbeat(text, boolean, interval);

-- A job reported done or failed by a listener that lost its lease queues its target again
-- (fencing): the listener says which target.
DROP FUNCTION IF EXISTS piw.complete_job(bigint, text);
DROP FUNCTION IF EXISTS piw.fail_job(bigint, text, text, interval);
