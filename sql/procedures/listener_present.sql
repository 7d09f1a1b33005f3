-- listener_present: the calling session is a listener's presence session, for as long as its transaction lasts.
CREATE OR REPLACE FUNCTION piw.listener_present()
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- A transaction that only locks writes nothing and, between statements, holds no snapshot:
    -- left open for the listener's whole life it holds back neither vacuum nor anything else.
    -- When the session ends (the listener is killed, its host lost, the session terminated) the
    -- lock goes with it, and claims and heartbeats see at once that the listener is gone (see
    -- piw._absent_listeners).
    IF pg_catalog.txid_current_if_assigned() IS NOT NULL THEN
        RAISE EXCEPTION 'the presence session''s transaction must write nothing'
            USING ERRCODE = '25000';
    END IF;
    LOCK TABLE piw.listener_presence IN ACCESS SHARE MODE;
    RETURN pg_catalog.pg_backend_pid();
END
$$;

COMMENT ON FUNCTION piw.listener_present() IS
'For listeners, first thing in the transaction of their presence session, left open for the listener''s life (it writes nothing and holds no snapshot): hold piw.listener_presence until the transaction ends; returns this session''s process id, which the listener''s heartbeats report (presence_pid). A listener whose presence session is gone is taken for dead at once and its jobs go back to the queue.';
