-- _counts_in_read_committed: refuse a count under a snapshot fixed for the transaction.
--
-- No SET clause (see piw._enqueue): it runs inside piw's routines only, which have one.
CREATE OR REPLACE FUNCTION piw._counts_in_read_committed(routine text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    -- Each statement of a count must see what committed before it: under a snapshot taken
    -- earlier, downloads deleted (and, if counted, subtracted) meanwhile would be counted again.
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION '% counts in READ COMMITTED transactions only, not %',
                        _counts_in_read_committed.routine, upper(current_setting('transaction_isolation'))
              USING ERRCODE = 'invalid_transaction_state';
    END IF;
END
$$;

COMMENT ON FUNCTION piw._counts_in_read_committed(text) IS
'internal: raise 25000 (invalid_transaction_state) naming routine unless the transaction is READ COMMITTED, as piw.count_downloads and piw.recount_downloads need';
