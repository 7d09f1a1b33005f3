-- recount_downloads: count the whole download log again, under each file's package as it is now.
CREATE OR REPLACE PROCEDURE piw.recount_downloads()
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_audit   bigint;
    v_now     pg_snapshot;
    v_window  date := (now() AT TIME ZONE 'UTC')::date - 29;
    v_counted bigint;
    v_changed bigint;
BEGIN
    -- As piw.count_downloads: under a snapshot taken earlier, downloads deleted meanwhile would
    -- be counted again.
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'piw.recount_downloads() counts in READ COMMITTED transactions only, not %',
                        upper(current_setting('transaction_isolation'))
              USING ERRCODE = 'invalid_transaction_state';
    END IF;
    -- Counts and deletions of counted downloads wait for the recount, and it for them.
    PERFORM 1 FROM piw.download_counting FOR UPDATE;
    v_audit := piw._audit_begin('recount_downloads', NULL);
    -- Every download of a transaction visible in this snapshot is counted here; those still
    -- running are not visible in it, so the next count takes them, as after any count.
    v_now := pg_current_snapshot();
    DELETE FROM piw.download_counts;
    DELETE FROM piw.download_totals;
    WITH logged AS (
        SELECT ROW(d.filename, (d.accessed_at AT TIME ZONE 'UTC')::date, count(*))::piw.download_tally AS tally
          FROM piw.downloads d
         WHERE pg_visible_in_snapshot(d.logged_xid::text::xid8, v_now)
         GROUP BY d.filename, (d.accessed_at AT TIME ZONE 'UTC')::date
    )
    SELECT coalesce(sum((l.tally).downloads), 0)::bigint,
           piw._add_download_counts(coalesce(array_agg(l.tally), '{}'), v_window)
      INTO v_counted, v_changed
      FROM logged l;
    UPDATE piw.download_counting
       SET counted = v_now, counted_at = now(), folded_before = v_window;
    PERFORM piw._enqueue(ARRAY[ROW('home', '', '')::piw.job_target, ROW('search', '', '')::piw.job_target]);
    PERFORM piw._audit_end(v_audit, jsonb_build_object('downloads counted', v_counted));
END
$$;

COMMENT ON PROCEDURE piw.recount_downloads() IS
'Count the whole download log again: replace piw.download_counts and piw.download_totals with the downloads of every finished transaction, each under its file''s package as piw.files says now (a count attributes a download when it counts it: downloads logged before their file''s row arrived stay under '''' until a recount), and queue the home page and the search index. Waits for a count or removal in progress. READ COMMITTED only. Appends to piw.audit. Example: CALL piw.recount_downloads();';
