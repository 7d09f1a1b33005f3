-- _packages_deleted: a deleted package's directories go; the indexes forget it.
CREATE OR REPLACE FUNCTION piw._packages_deleted()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM old_rows) THEN
        RETURN NULL;
    END IF;
    PERFORM piw._enqueue(
        ARRAY(SELECT ROW('delete_package', o.package, '')::piw.job_target FROM old_rows o)
        || ARRAY[ROW('home', '', '')::piw.job_target,
                 ROW('search', '', '')::piw.job_target,
                 ROW('simple_root', '', '')::piw.job_target]);
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION piw._packages_deleted() IS 'trigger: queue deletion of deleted packages'' directories and rebuild of home, search and the simple root index';
