-- count_downloads: add the downloads logged since the last count to the counts; queue the pages.
CREATE OR REPLACE FUNCTION piw.count_downloads(at_most_every interval DEFAULT '1 minute')
RETURNS TABLE (counted bigint, due_in interval)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_counting  piw.download_counting;
    v_now       pg_snapshot;
    v_window    date := (now() AT TIME ZONE 'UTC')::date - 29;
    v_counted   bigint;
    v_folded    bigint := 0;
    v_changed   bigint;
    v_versions  bigint;
    v_files     bigint;
    v_every     interval := greatest(coalesce(count_downloads.at_most_every, '1 minute'), '0');
BEGIN
    PERFORM piw._counts_in_read_committed('piw.count_downloads()');
    -- One count at a time; deletions of counted downloads wait for it, and it for them.
    SELECT * INTO STRICT v_counting FROM piw.download_counting FOR UPDATE;
    -- A count that waited for the lock past midnight (UTC) while another folded the day counts
    -- with that one's window: a day it folded must not come back as a day of its own.
    v_window := greatest(v_window, v_counting.folded_before);
    IF v_counting.counted_at > now() - v_every THEN
        RETURN QUERY SELECT 0::bigint, v_counting.counted_at + v_every - now();
        RETURN;
    END IF;
    -- A transaction visible in a snapshot had finished when it was taken: its downloads are all
    -- there (or were rolled back) and none can come later. Those still running (anywhere in the
    -- cluster: a snapshot is the cluster's) are counted by a later count. The BRIN index finds the
    -- rows from the last snapshot's xmin on.
    v_now := pg_current_snapshot();
    WITH logged AS (
        SELECT ROW(d.filename, (d.accessed_at AT TIME ZONE 'UTC')::date, count(*))::piw.download_tally AS tally
          FROM piw.downloads d
         WHERE d.logged_xid >= pg_snapshot_xmin(v_counting.counted)::text::bigint
           AND NOT pg_visible_in_snapshot(d.logged_xid::text::xid8, v_counting.counted)
           AND pg_visible_in_snapshot(d.logged_xid::text::xid8, v_now)
         GROUP BY d.filename, (d.accessed_at AT TIME ZONE 'UTC')::date
    )
    SELECT coalesce(sum((l.tally).downloads), 0)::bigint,
           piw._add_download_counts(coalesce(array_agg(l.tally), '{}'), v_window)
      INTO v_counted, v_changed
      FROM logged l;
    -- Days that left the 30 shown apart join the days before them, once a day.
    IF v_counting.folded_before < v_window THEN
        WITH gone AS (
            DELETE FROM piw.download_counts c
             WHERE c.day < v_window AND c.day > '-infinity'
            RETURNING c.package, c.downloads
        )
        INSERT INTO piw.download_counts AS c (package, day, downloads)
        SELECT g.package, '-infinity', sum(g.downloads)::bigint
          FROM gone g
         GROUP BY g.package
         ORDER BY g.package
            ON CONFLICT (package, day) DO UPDATE SET downloads = c.downloads + excluded.downloads;
        GET DIAGNOSTICS v_folded = ROW_COUNT;
    END IF;
    -- Versions and wheels added to listed packages queue their pages alone (see
    -- piw._package_page_targets): the home page's figures of them follow here.
    SELECT count(*) INTO v_versions FROM piw.versions v WHERE v.skip = '';
    SELECT count(*) INTO v_files FROM piw.files;
    -- A count that found nothing writes nothing (an idle site's minute costs no WAL): the last
    -- snapshot stays right, as no transaction between it and this one logged a download.
    IF v_counted <> 0 OR v_counting.folded_before < v_window
       OR (v_versions, v_files) IS DISTINCT FROM (v_counting.home_versions, v_counting.home_files) THEN
        UPDATE piw.download_counting
           SET counted = v_now, counted_at = now(), folded_before = greatest(folded_before, v_window),
               home_versions = v_versions, home_files = v_files;
    END IF;
    IF v_counted <> 0 OR v_folded > 0 THEN
        PERFORM piw._enqueue(ARRAY[ROW('home', '', '')::piw.job_target, ROW('search', '', '')::piw.job_target]);
    ELSIF (v_versions, v_files) IS DISTINCT FROM (v_counting.home_versions, v_counting.home_files) THEN
        PERFORM piw._enqueue(ARRAY[ROW('home', '', '')::piw.job_target]);
    END IF;
    RETURN QUERY SELECT v_counted, v_every;
END
$$;

COMMENT ON FUNCTION piw.count_downloads(interval) IS
'Add the downloads logged by transactions finished since the last count to piw.download_counts (per package and UTC day; piw.download_totals follows) and, if any were added or a day left the last 30, queue the home page and the search index; else queue the home page if its counts of versions and files changed since the last count (new versions and wheels of listed packages do not queue it themselves). Does nothing if the last count was less than at_most_every ago. Returns how many downloads it counted and the time until the next count is due. Listeners call it (see piw-listener --count-downloads-every); logging a download queues nothing itself. READ COMMITTED only. Example: SELECT * FROM piw.count_downloads(''0'');';
