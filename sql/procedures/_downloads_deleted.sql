-- _downloads_deleted: deleted downloads that were counted leave the counts; the pages show it.
CREATE OR REPLACE FUNCTION piw._downloads_deleted()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_counting piw.download_counting;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM old_rows) THEN
        RETURN NULL;
    END IF;
    -- The row lock waits for a count in progress and holds the next one back until this
    -- transaction ends. Rows whose transaction the last count's snapshot saw were counted: they
    -- are subtracted here. The others are gone before any count can see them.
    SELECT * INTO STRICT v_counting FROM piw.download_counting FOR SHARE;
    PERFORM piw._add_download_counts(ARRAY(
        SELECT ROW(o.filename, (o.accessed_at AT TIME ZONE 'UTC')::date, -count(*))::piw.download_tally
          FROM old_rows o
         WHERE pg_visible_in_snapshot(o.logged_xid::text::xid8, v_counting.counted)
         GROUP BY o.filename, (o.accessed_at AT TIME ZONE 'UTC')::date), v_counting.folded_before);
    PERFORM piw._enqueue(ARRAY[ROW('home', '', '')::piw.job_target, ROW('search', '', '')::piw.job_target]);
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION piw._downloads_deleted() IS 'trigger: subtract deleted downloads that were counted from piw.download_counts; queue home and search';
