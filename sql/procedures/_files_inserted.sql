-- _files_inserted: new wheels appear on their package's pages, home and search.
CREATE OR REPLACE FUNCTION piw._files_inserted()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM piw._enqueue(piw._page_targets(ARRAY(
        SELECT DISTINCT b.package FROM new_rows f JOIN piw.builds b ON b.build_id = f.build_id)));
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION piw._files_inserted() IS 'trigger: queue the pages of the packages that gained files';
