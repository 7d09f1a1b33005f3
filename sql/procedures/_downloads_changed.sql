-- _downloads_changed: download counts show on the home page and in the search index.
CREATE OR REPLACE FUNCTION piw._downloads_changed()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM piw._enqueue(ARRAY[ROW('home', '', '')::piw.job_target, ROW('search', '', '')::piw.job_target]);
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION piw._downloads_changed() IS 'trigger: queue home and search, which show download counts';
