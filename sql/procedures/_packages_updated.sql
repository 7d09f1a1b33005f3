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
        || piw._package_page_targets(ARRAY(SELECT n.package FROM new_rows n))
        -- The home page, the search index and the simple root list packages by name, when not
        -- skipped: a rename or a skip changes them, at once. A description or display name shows
        -- on the package's own pages alone (every import updates the display name).
        || CASE WHEN EXISTS (SELECT 1 FROM old_rows o
                               LEFT JOIN new_rows n ON n.package = o.package
                              WHERE n.package IS NULL OR (o.skip = '') <> (n.skip = ''))
                THEN ARRAY[ROW('home', '', '')::piw.job_target, ROW('search', '', '')::piw.job_target,
                           ROW('simple_root', '', '')::piw.job_target]
                ELSE '{}'::piw.job_target[] END);
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION piw._packages_updated() IS 'trigger: queue the simple and project pages of updated packages (and the home page, search index and simple root index when one was renamed, skipped or unskipped), the deletion of the directories of packages renamed away, and the move (place_wheel) of each wheel of a package skipped or unskipped';
