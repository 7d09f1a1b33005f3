-- _files_updated: changed wheels are republished; a renamed or moved row's old wheel is deleted.
CREATE OR REPLACE FUNCTION piw._files_updated()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM piw._enqueue(
        ARRAY(SELECT ROW('delete_wheel', ob.package, o.filename)::piw.job_target
                FROM old_rows o JOIN piw.builds ob ON ob.build_id = o.build_id
               WHERE NOT EXISTS (
                     SELECT 1 FROM new_rows n JOIN piw.builds nb ON nb.build_id = n.build_id
                      WHERE n.filename = o.filename AND nb.package = ob.package))
        || piw._page_targets(ARRAY(
               SELECT b.package FROM old_rows f JOIN piw.builds b ON b.build_id = f.build_id
               UNION
               SELECT b.package FROM new_rows f JOIN piw.builds b ON b.build_id = f.build_id)));
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION piw._files_updated() IS 'trigger: queue the pages of packages whose files changed, and deletion of wheels whose row was renamed away';
