-- The heartbeat releases the jobs of listeners that are gone, as a claim does; like a claim it
-- must fail a job that has lost its listener max_attempts times, or a job that kills every
-- listener running it (a crash in its page, say) would be retried for ever. It now takes
-- max_attempts: the old signatures go, and sql/procedures/ creates the new ones.
DROP FUNCTION IF EXISTS piw.listener_heartbeat(text, boolean, interval, integer);
DROP FUNCTION IF EXISTS piw._release_absent_listeners_jobs(text);
