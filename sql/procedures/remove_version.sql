-- remove_version: forget a version's builds, files and downloads; queue the disk work.
CREATE OR REPLACE PROCEDURE piw.remove_version(package text, version text, skip boolean DEFAULT false)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_package text := piw._existing_version(remove_version.package, remove_version.version);
    v_version text := remove_version.version;
    v_audit   bigint;
BEGIN
    -- Removed before with skip, and asked again with skip: the row stayed, marked skipped, with
    -- nothing left to remove, so the call would change nothing. (Without skip it removes the row.)
    IF coalesce(remove_version.skip, false)
       AND EXISTS (SELECT 1 FROM piw.versions v WHERE v.package = v_package AND v.version = v_version AND v.skip <> '')
       AND NOT EXISTS (SELECT 1 FROM piw.builds b WHERE b.package = v_package AND b.version = v_version) THEN
        PERFORM piw._removed_before(v_package, v_version, 'PW003');
    END IF;
    v_audit := piw._audit_begin('remove_version', v_package, v_version,
                                CASE WHEN coalesce(remove_version.skip, false) THEN 'skip' END);
    DELETE FROM piw.downloads d
     USING piw.files f, piw.builds b
     WHERE d.filename = f.filename
       AND f.build_id = b.build_id
       AND b.package = v_package
       AND b.version = v_version;
    -- Dependencies, files, then builds, each in one statement: the triggers queue the wheels'
    -- deletion and the pages once per statement. (Deleting the builds alone would do the same
    -- through their triggers and the foreign keys, but one statement per build and per file.)
    DELETE FROM piw.dependencies d
     USING piw.files f, piw.builds b
     WHERE d.filename = f.filename
       AND f.build_id = b.build_id
       AND b.package = v_package
       AND b.version = v_version;
    DELETE FROM piw.files f
     USING piw.builds b
     WHERE f.build_id = b.build_id
       AND b.package = v_package
       AND b.version = v_version;
    DELETE FROM piw.builds b
     WHERE b.package = v_package
       AND b.version = v_version;
    IF coalesce(remove_version.skip, false) THEN
        UPDATE piw.versions v
           SET skip = CASE WHEN v.skip = '' THEN 'removed by admin' ELSE v.skip END  -- keep a reason given earlier
         WHERE v.package = v_package AND v.version = v_version;
    ELSE
        DELETE FROM piw.versions v
         WHERE v.package = v_package AND v.version = v_version;
    END IF;
    PERFORM piw._audit_end(v_audit);
END
$$;

COMMENT ON PROCEDURE piw.remove_version(text, text, boolean) IS
'Forget every build of a version, delete its files, their dependencies and logged downloads, and queue deletion of its wheels and rebuild of the package''s simple and project pages, home and search. Without skip the version row goes too (it may be built again); with skip it stays, marked skipped. P0002 if the package or version does not exist (saying when and by whom it was removed, if it was), PW003 if it was removed before with skip and is asked to be again (nothing would change). Appends to piw.audit. Example: CALL piw.remove_version(''foo'', ''1.0'', skip => true);';
