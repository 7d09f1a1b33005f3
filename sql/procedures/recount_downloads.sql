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
BEGIN
    PERFORM piw._counts_in_read_committed('piw.recount_downloads()');
    -- Counts and deletions of counted downloads wait for the recount, and it for them.
    SELECT greatest(v_window, c.folded_before) INTO STRICT v_window FROM piw.download_counting c FOR UPDATE;
    v_audit := piw._audit_begin('recount_downloads', NULL);
    -- Every download of a transaction visible in this snapshot is counted here; those still
    -- running are not visible in it, so the next count takes them, as after any count.
    v_now := pg_current_snapshot();
    -- The totals first: the counts' trigger then has none left to subtract from, and adds the
    -- new counts to none. DELETE, not TRUNCATE: a page rendered meanwhile under an earlier
    -- snapshot still reads the old counts, not an empty table. One statement, no array: the
    -- log may hold billions of rows.
    DELETE FROM piw.download_totals;
    DELETE FROM piw.download_counts;
    INSERT INTO piw.download_counts (package, day, downloads)
    SELECT coalesce(b.package, ''),
           CASE WHEN (d.accessed_at AT TIME ZONE 'UTC')::date < v_window THEN '-infinity'::date
                ELSE (d.accessed_at AT TIME ZONE 'UTC')::date END,
           count(*)
      FROM piw.downloads d
      LEFT JOIN piw.files f ON f.filename = d.filename
      LEFT JOIN piw.builds b ON b.build_id = f.build_id
     WHERE pg_visible_in_snapshot(d.logged_xid::text::xid8, v_now)
     GROUP BY 1, 2
     ORDER BY 1, 2;
    SELECT coalesce(sum(t.total), 0)::bigint INTO v_counted FROM piw.download_totals t;
    UPDATE piw.download_counting
       SET counted = v_now, counted_at = now(), folded_before = v_window;
    PERFORM piw._enqueue(ARRAY[ROW('home', '', '')::piw.job_target, ROW('search', '', '')::piw.job_target]);
    PERFORM piw._audit_end(v_audit, jsonb_build_object('downloads counted', v_counted));
END
$$;

COMMENT ON PROCEDURE piw.recount_downloads() IS
'Count the whole download log again: replace piw.download_counts and piw.download_totals with the downloads of every finished transaction, each under its file''s package as piw.files says now (a count attributes a download when it counts it: downloads logged before their file''s row arrived stay under '''' until a recount), and queue the home page and the search index. Waits for a count or removal in progress. READ COMMITTED only. Appends to piw.audit. Example: CALL piw.recount_downloads();';
