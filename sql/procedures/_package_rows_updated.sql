-- _package_rows_updated: an updated version shows on its package's pages, before and after; a
-- version whose wheels are published or withheld now has them moved.
CREATE OR REPLACE FUNCTION piw._package_rows_updated()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- The package before and after: a row moved to another package changes both. A version
    -- whose publication changed (held or skipped, released or unskipped) has each of its wheels
    -- moved to where its row now says (see the listener's place_wheel): withheld wheels must not
    -- stay downloadable by URL.
    PERFORM piw._enqueue(
        ARRAY(SELECT ROW('place_wheel', n.package, f.filename)::piw.job_target
                FROM old_rows o
                JOIN new_rows n ON n.package = o.package AND n.version = o.version
                JOIN piw.builds b ON b.package = n.package AND b.version = n.version
                JOIN piw.files f ON f.build_id = b.build_id
               WHERE (o.skip = '' AND o.held = '') <> (n.skip = '' AND n.held = ''))
        || piw._package_page_targets(ARRAY(
               SELECT o.package FROM old_rows o
               UNION
               SELECT n.package FROM new_rows n))
        -- A version skipped or unskipped changes the listing (the home page counts the versions
        -- not skipped): home and search at once. Other changes show on the package's pages alone.
        || CASE WHEN EXISTS (SELECT 1 FROM old_rows o
                               JOIN new_rows n ON n.package = o.package AND n.version = o.version
                              WHERE (o.skip = '') <> (n.skip = ''))
                  OR EXISTS (SELECT 1 FROM old_rows o
                              WHERE NOT EXISTS (SELECT 1 FROM new_rows n WHERE n.package = o.package AND n.version = o.version))
                THEN ARRAY[ROW('home', '', '')::piw.job_target, ROW('search', '', '')::piw.job_target]
                ELSE '{}'::piw.job_target[] END);
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION piw._package_rows_updated() IS 'trigger (versions): queue the simple and project pages of the packages whose rows changed, before and after the update (the home page and search index too when a version was skipped, unskipped or renamed), and the move (place_wheel) of each wheel of a version that was withheld or published by it';
