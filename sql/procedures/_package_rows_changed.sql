-- _package_rows_changed: a change to versions or builds shows on its package's pages.
CREATE OR REPLACE FUNCTION piw._package_rows_changed()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Shared by versions and builds: both carry the package column in the transition table.
    -- New versions and builds add to listed packages: their pages now, the home page's figures at
    -- the next count. A deletion takes something off the listing: home and search at once.
    IF TG_OP = 'INSERT' THEN
        PERFORM piw._enqueue(piw._package_page_targets(ARRAY(SELECT DISTINCT c.package FROM changed_rows c)));
    ELSE
        PERFORM piw._enqueue(piw._page_targets(ARRAY(SELECT DISTINCT c.package FROM changed_rows c)));
    END IF;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION piw._package_rows_changed() IS 'trigger (versions, builds; inserts and deletes): queue the simple and project pages of the packages whose rows changed; for deletes, the home page and search index too (inserts reach them at the next piw.count_downloads)';
