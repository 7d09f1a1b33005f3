-- listener_sleep: a listener goes to sleep, unless an enqueuer counting on it being awake is still at work.
CREATE OR REPLACE FUNCTION piw.listener_sleep()
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- See piw._wake_listeners. Tried, not waited for: a waiting SHARE request would make every
    -- new enqueuer notify (its ROW EXCLUSIVE would queue behind it), for as long as the slowest
    -- transaction that counted on us (a long import: minutes). The listener stays awake instead
    -- and tries again later.
    LOCK TABLE piw.wake_lock IN SHARE MODE NOWAIT;
    RETURN true;
EXCEPTION WHEN lock_not_available THEN
    RETURN false;
END
$$;

COMMENT ON FUNCTION piw.listener_sleep() IS
'For listeners, on their presence session inside a savepoint: go to sleep, holding piw.wake_lock SHARE, so that enqueuers NOTIFY (until ROLLBACK TO SAVEPOINT wakes the listener). False, and nothing held, while a transaction that counted on an awake listener is still open: stay awake and try again later. Once asleep, the listener must read the queue once more: the work of every transaction that counted on it is visible then.';
