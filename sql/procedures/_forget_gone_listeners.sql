-- _forget_gone_listeners: rows of listeners gone without a goodbye, once nothing of theirs is left.
CREATE OR REPLACE FUNCTION piw._forget_gone_listeners(listener text)
RETURNS void
LANGUAGE sql
AS $$
    DELETE FROM piw.listeners l
     WHERE l.listener_id <> _forget_gone_listeners.listener
       AND (l.seen_at < now() - interval '1 day'
            OR (l.listener_id = ANY (ARRAY(SELECT piw._absent_listeners()))
                AND NOT EXISTS (SELECT 1 FROM piw.jobs j WHERE j.state = 'running' AND j.locked_by = l.listener_id)));
$$;

COMMENT ON FUNCTION piw._forget_gone_listeners(text) IS 'internal: delete the rows of listeners (other than listener, the caller) not seen for a day, or absent with no running job left';
