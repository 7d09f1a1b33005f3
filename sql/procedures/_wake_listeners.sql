-- _wake_listeners: NOTIFY piw_jobs unless a listener is awake and sure to look at the queue again.
CREATE OR REPLACE FUNCTION piw._wake_listeners()
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- NOTIFY takes a cluster-wide lock at commit, so transactions that notify commit one at a time.
    -- When a listener is awake we share-lock its row instead: share locks do not block each other,
    -- and the listener must update that row (waiting for us to commit) before it may sleep, after
    -- which it reads the queue once more and finds our work. A listener that stopped heartbeating
    -- does not count as awake.
    PERFORM 1
       FROM piw.listeners l
      WHERE l.awake
        AND l.seen_at > now() - interval '30 seconds'
      LIMIT 1
        FOR SHARE;
    IF NOT FOUND THEN
        PERFORM pg_notify('piw_jobs', '');
    END IF;
END
$$;

COMMENT ON FUNCTION piw._wake_listeners() IS 'internal: NOTIFY piw_jobs, unless an awake listener is certain to see this transaction''s work without it';
