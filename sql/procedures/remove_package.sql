-- remove_package: remove_version for every version; without skip the package itself goes.
CREATE OR REPLACE PROCEDURE piw.remove_package(package text, skip boolean DEFAULT false)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_package text := piw._existing_package(remove_package.package);
    v_audit   bigint;
BEGIN
    -- Removed before with skip, and asked again with skip: nothing would change (see
    -- piw.remove_version).
    IF coalesce(remove_package.skip, false)
       AND EXISTS (SELECT 1 FROM piw.packages p WHERE p.package = v_package AND p.skip <> '')
       AND NOT EXISTS (SELECT 1 FROM piw.versions v WHERE v.package = v_package) THEN
        PERFORM piw._removed_before(v_package, NULL, 'PW003');
    END IF;
    v_audit := piw._audit_begin('remove_package', v_package, NULL,
                                CASE WHEN coalesce(remove_package.skip, false) THEN 'skip' END);
    -- Lock the version rows before touching builds, in the order remove_version takes its locks
    -- (version, then builds): deleting the builds first could deadlock with a racing
    -- remove_version of one of these versions.
    PERFORM 1 FROM piw.versions v WHERE v.package = v_package ORDER BY v.version FOR UPDATE;
    DELETE FROM piw.downloads d
     USING piw.files f, piw.builds b
     WHERE d.filename = f.filename
       AND f.build_id = b.build_id
       AND b.package = v_package;
    -- One statement per table, as in remove_version.
    DELETE FROM piw.dependencies d
     USING piw.files f, piw.builds b
     WHERE d.filename = f.filename
       AND f.build_id = b.build_id
       AND b.package = v_package;
    DELETE FROM piw.files f
     USING piw.builds b
     WHERE f.build_id = b.build_id
       AND b.package = v_package;
    DELETE FROM piw.builds b WHERE b.package = v_package;
    DELETE FROM piw.versions v WHERE v.package = v_package;
    IF coalesce(remove_package.skip, false) THEN
        UPDATE piw.packages p SET skip = CASE WHEN p.skip = '' THEN 'removed by admin' ELSE p.skip END WHERE p.package = v_package;
    ELSE
        DELETE FROM piw.packages p WHERE p.package = v_package;
    END IF;
    PERFORM piw._audit_end(v_audit);
END
$$;

COMMENT ON PROCEDURE piw.remove_package(text, boolean) IS
'Remove every version of a package as remove_version does. Without skip the package row goes and its page directories are deleted; with skip the package stays, marked skipped, with no versions. P0002 if the package does not exist (saying when and by whom it was removed, if it was), PW003 if it was removed before with skip and is asked to be again (nothing would change). Appends to piw.audit. Example: CALL piw.remove_package(''foo'');';
