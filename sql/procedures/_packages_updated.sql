-- _packages_updated: a changed package shows on its pages; a renamed one's old pages go.
CREATE OR REPLACE FUNCTION piw._packages_updated()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Both sides: a package renamed by UPDATE is a package that no longer exists (its
    -- directories go, as when it is deleted) and one that does (its pages are written).
    PERFORM piw._enqueue(
        ARRAY(SELECT ROW('delete_package', o.package, '')::piw.job_target
                FROM old_rows o
               WHERE NOT EXISTS (SELECT 1 FROM piw.packages p WHERE p.package = o.package))
        || piw._page_targets(ARRAY(SELECT n.package FROM new_rows n), with_root => true));
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION piw._packages_updated() IS 'trigger: queue the pages of updated packages and the simple root index, and the deletion of the directories of packages renamed away';
