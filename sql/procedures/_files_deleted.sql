-- _files_deleted: deleted rows' wheels are deleted from disk and vanish from the pages.
CREATE OR REPLACE FUNCTION piw._files_deleted()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM piw._enqueue(
        ARRAY(SELECT ROW('delete_wheel', b.package, f.filename)::piw.job_target
                FROM old_rows f JOIN piw.builds b ON b.build_id = f.build_id)
        || piw._page_targets(ARRAY(
               SELECT DISTINCT b.package FROM old_rows f JOIN piw.builds b ON b.build_id = f.build_id)));
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION piw._files_deleted() IS 'trigger: queue deletion of the wheels of deleted file rows and their packages'' pages';
