-- _dependencies_changed: dependencies are listed on the project page.
CREATE OR REPLACE FUNCTION piw._dependencies_changed()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM piw._enqueue(ARRAY(
        SELECT DISTINCT ROW('project', b.package, '')::piw.job_target
          FROM changed_rows d
          JOIN piw.files f ON f.filename = d.filename
          JOIN piw.builds b ON b.build_id = f.build_id));
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION piw._dependencies_changed() IS 'trigger: queue the project pages of packages whose files'' dependencies changed';
