-- unskip_version: build and publish a skipped version again.
CREATE OR REPLACE PROCEDURE piw.unskip_version(package text, version text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_package text := piw._existing_version(unskip_version.package, unskip_version.version);
    v_audit   bigint;
BEGIN
    IF (SELECT v.skip FROM piw.versions v WHERE v.package = v_package AND v.version = unskip_version.version) = '' THEN
        RAISE EXCEPTION 'version % of package % is not skipped', piw._printable(unskip_version.version), v_package
            USING ERRCODE = 'PW001';
    END IF;
    v_audit := piw._audit_begin('unskip_version', v_package, unskip_version.version);
    UPDATE piw.versions v SET skip = ''
     WHERE v.package = v_package AND v.version = unskip_version.version;
    PERFORM piw._audit_end(v_audit);
END
$$;

COMMENT ON PROCEDURE piw.unskip_version(text, text) IS
'Clear a version''s skip mark; the package''s pages are rebuilt. P0002 if the package or version does not exist, PW001 if it is not skipped. Appends to piw.audit. Example: CALL piw.unskip_version(''foo'', ''1.0'');';
