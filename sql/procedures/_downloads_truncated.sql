-- _downloads_truncated: an emptied log has no counts.
CREATE OR REPLACE FUNCTION piw._downloads_truncated()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- TRUNCATE holds the log's exclusive lock: no count runs meanwhile.
    PERFORM 1 FROM piw.download_counting FOR UPDATE;
    DELETE FROM piw.download_counts;
    PERFORM piw._enqueue(ARRAY[ROW('home', '', '')::piw.job_target, ROW('search', '', '')::piw.job_target]);
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION piw._downloads_truncated() IS 'trigger: empty piw.download_counts with the log; queue home and search';
