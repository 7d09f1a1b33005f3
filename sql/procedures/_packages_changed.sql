-- _packages_changed: a new package shows on its pages, the root index, home and search.
CREATE OR REPLACE FUNCTION piw._packages_changed()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM piw._enqueue(piw._page_targets(ARRAY(SELECT c.package FROM changed_rows c), with_root => true));
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION piw._packages_changed() IS 'trigger: queue the pages of inserted packages and the simple root index (updates: piw._packages_updated)';
