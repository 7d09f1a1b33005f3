-- _packages_updated: a changed package shows on its pages; a renamed one's old pages go; a
-- skipped or unskipped one's wheels are withheld or published.
CREATE OR REPLACE FUNCTION piw._packages_updated()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Both sides: a package renamed by UPDATE is a package that no longer exists (its
    -- directories go, as when it is deleted) and one that does (its pages are written). A
    -- package skipped or unskipped has each of its wheels moved to where its rows now say (see
    -- the listener's place_wheel): a skipped package's wheels are not served.
    PERFORM piw._enqueue(
        ARRAY(SELECT ROW('delete_package', o.package, '')::piw.job_target
                FROM old_rows o
               WHERE NOT EXISTS (SELECT 1 FROM piw.packages p WHERE p.package = o.package))
        || ARRAY(SELECT ROW('place_wheel', n.package, f.filename)::piw.job_target
                   FROM old_rows o
                   JOIN new_rows n ON n.package = o.package
                   JOIN piw.builds b ON b.package = n.package
                   JOIN piw.files f ON f.build_id = b.build_id
                  WHERE (o.skip = '') <> (n.skip = ''))
        || piw._page_targets(ARRAY(SELECT n.package FROM new_rows n), with_root => true));
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION piw._packages_updated() IS 'trigger: queue the pages of updated packages and the simple root index, the deletion of the directories of packages renamed away, and the move (place_wheel) of each wheel of a package skipped or unskipped';
