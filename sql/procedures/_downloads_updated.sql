-- _downloads_updated: an updated download that was counted moves between counts.
CREATE OR REPLACE FUNCTION piw._downloads_updated()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_counting piw.download_counting;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM new_rows) THEN
        RETURN NULL;
    END IF;
    -- As in piw._downloads_deleted. logged_xid is not writable by piw_admin, so a row counted
    -- before stays counted after: the old values leave the counts, the new ones join them.
    SELECT * INTO STRICT v_counting FROM piw.download_counting FOR SHARE;
    PERFORM piw._add_download_counts(ARRAY(
        SELECT ROW(c.filename, c.day, sum(c.downloads))::piw.download_tally
          FROM (SELECT o.filename, (o.accessed_at AT TIME ZONE 'UTC')::date AS day, -1 AS downloads
                  FROM old_rows o WHERE pg_visible_in_snapshot(o.logged_xid::text::xid8, v_counting.counted)
                UNION ALL
                SELECT n.filename, (n.accessed_at AT TIME ZONE 'UTC')::date, 1
                  FROM new_rows n WHERE pg_visible_in_snapshot(n.logged_xid::text::xid8, v_counting.counted)) c
         GROUP BY c.filename, c.day), v_counting.folded_before);
    PERFORM piw._enqueue(ARRAY[ROW('home', '', '')::piw.job_target, ROW('search', '', '')::piw.job_target]);
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION piw._downloads_updated() IS 'trigger: move updated downloads that were counted between piw.download_counts; queue home and search';
