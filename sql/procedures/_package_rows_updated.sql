-- _package_rows_updated: an updated version shows on its package's pages, before and after.
CREATE OR REPLACE FUNCTION piw._package_rows_updated()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- The package before and after: a row moved to another package changes both.
    PERFORM piw._enqueue(piw._page_targets(ARRAY(
        SELECT o.package FROM old_rows o
        UNION
        SELECT n.package FROM new_rows n)));
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION piw._package_rows_updated() IS 'trigger (versions): queue the pages of the packages whose rows changed, before and after the update';
