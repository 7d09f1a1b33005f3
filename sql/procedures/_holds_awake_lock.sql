-- _holds_awake_lock: whether this session holds the awake lock (see piw._wake_listeners).
CREATE OR REPLACE FUNCTION piw._holds_awake_lock()
RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks k
                    WHERE k.locktype = 'advisory' AND k.pid = pg_catalog.pg_backend_pid()
                      AND k.classid = 1885959938 AND k.objid = 1 AND k.objsubid = 2
                      AND k.mode = 'ShareLock' AND k.granted)
$$;

COMMENT ON FUNCTION piw._holds_awake_lock() IS 'internal: whether this session holds the awake lock (advisory key (1885959938, 1)) shared, as an awake listener''s session does';
