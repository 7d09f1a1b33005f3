-- _files_inserted: new wheels appear on their package's pages, home and search.
CREATE OR REPLACE FUNCTION piw._files_inserted()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- New wheels of listed packages: their pages now; the home page's file count at the next
    -- count (see piw._package_page_targets).
    PERFORM piw._enqueue(piw._package_page_targets(ARRAY(
        SELECT DISTINCT b.package FROM new_rows f JOIN piw.builds b ON b.build_id = f.build_id)));
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION piw._files_inserted() IS 'trigger: queue the simple and project pages of the packages that gained files (the home page''s file count follows at the next piw.count_downloads)';
