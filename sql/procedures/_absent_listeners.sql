-- _absent_listeners: listeners whose presence session has ended.
CREATE OR REPLACE FUNCTION piw._absent_listeners()
RETURNS SETOF text
LANGUAGE sql STABLE
AS $$
    -- A listener's presence session holds piw.listener_presence (see piw.listener_present) for as
    -- long as it lives, and only piw's routines can lock it. pg_locks is read once: a snapshot
    -- of the lock table, tens of microseconds with tens of sessions.
    SELECT l.listener_id
      FROM piw.listeners l
     WHERE l.presence_pid IS NOT NULL
       AND l.presence_pid NOT IN (
           SELECT k.pid FROM pg_catalog.pg_locks k
            WHERE k.locktype = 'relation'
              AND k.relation = 'piw.listener_presence'::pg_catalog.regclass
              AND k.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
              AND k.granted AND k.pid IS NOT NULL)
$$;

COMMENT ON FUNCTION piw._absent_listeners() IS 'internal: the listeners whose presence session (presence_pid) no longer holds piw.listener_presence: killed, host lost, session terminated';
