-- piw.claim_jobs and piw.listener_heartbeat release lost jobs through one function,
-- piw._release_lost_jobs (sql/procedures/); the heartbeat's own helper goes.
DROP FUNCTION IF EXISTS piw._release_absent_listeners_jobs(text, integer);
