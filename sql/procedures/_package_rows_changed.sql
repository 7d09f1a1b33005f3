-- _package_rows_changed: a change to versions or builds shows on its package's pages.
CREATE OR REPLACE FUNCTION piw._package_rows_changed()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Shared by versions and builds: both carry the package column in the transition table.
    PERFORM piw._enqueue(piw._page_targets(ARRAY(SELECT DISTINCT c.package FROM changed_rows c)));
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION piw._package_rows_changed() IS 'trigger (versions, builds; inserts and deletes): queue the pages of the packages whose rows changed';
