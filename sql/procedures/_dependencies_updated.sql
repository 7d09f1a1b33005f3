-- _dependencies_updated: dependencies are listed on the project page, before and after.
CREATE OR REPLACE FUNCTION piw._dependencies_updated()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- A dependency moved to another file may have moved to another package's page.
    PERFORM piw._enqueue(ARRAY(
        SELECT DISTINCT ROW('project', b.package, '')::piw.job_target
          FROM (SELECT o.filename FROM old_rows o UNION SELECT n.filename FROM new_rows n) AS d
          JOIN piw.files f ON f.filename = d.filename
          JOIN piw.builds b ON b.build_id = f.build_id));
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION piw._dependencies_updated() IS 'trigger: queue the project pages of packages whose files'' dependencies changed, before and after the update';
