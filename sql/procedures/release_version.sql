-- release_version: publish a held version's wheels again.
CREATE OR REPLACE PROCEDURE piw.release_version(package text, version text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_package text := piw._existing_version(release_version.package, release_version.version);
    v_audit   bigint;
BEGIN
    IF (SELECT v.held FROM piw.versions v WHERE v.package = v_package AND v.version = release_version.version) = '' THEN
        RAISE EXCEPTION 'version % of package % is not held', piw._printable(release_version.version), v_package
            USING ERRCODE = 'PW002';
    END IF;
    v_audit := piw._audit_begin('release_version', v_package, release_version.version);
    -- The versions trigger queues the move of each of its wheels back under simple/ (unless the
    -- version or its package is skipped: then they stay withheld).
    UPDATE piw.versions v SET held = ''
     WHERE v.package = v_package AND v.version = release_version.version;
    PERFORM piw._audit_end(v_audit);
END
$$;

COMMENT ON PROCEDURE piw.release_version(text, text) IS
'Release a held version: its wheels go back under simple/PACKAGE/ and onto the pages (unless the package or version is skipped). P0002 if the package or version does not exist, PW002 if it is not held. Appends to piw.audit. Example: CALL piw.release_version(''foo'', ''1.0'');';
