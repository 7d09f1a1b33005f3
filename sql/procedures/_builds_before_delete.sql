-- _builds_before_delete: delete a build's files while the build row can still name their package.
CREATE OR REPLACE FUNCTION piw._builds_before_delete()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- The foreign key would cascade too, but only after this row is gone, and then the files
    -- trigger could no longer tell which simple/PACKAGE/ directory holds the wheels.
    -- (A probe first: a build whose files went already, as remove_version deletes them, costs
    -- no statement and no run of the files' triggers.)
    IF EXISTS (SELECT 1 FROM piw.files f WHERE f.build_id = OLD.build_id) THEN
        DELETE FROM piw.files f WHERE f.build_id = OLD.build_id;
    END IF;
    RETURN OLD;
END
$$;

COMMENT ON FUNCTION piw._builds_before_delete() IS 'trigger: delete a build''s files (and so queue their wheels'' deletion) before the build row goes';
