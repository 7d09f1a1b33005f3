-- unyank_version: undo a PEP 592 yank.
CREATE OR REPLACE PROCEDURE piw.unyank_version(package text, version text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_package text := piw._existing_version(unyank_version.package, unyank_version.version);
    v_audit   bigint;
BEGIN
    IF NOT (SELECT v.yanked FROM piw.versions v WHERE v.package = v_package AND v.version = unyank_version.version) THEN
        RAISE EXCEPTION 'version % of package % is not yanked', piw._printable(unyank_version.version), v_package
            USING ERRCODE = 'PW005';
    END IF;
    v_audit := piw._audit_begin('unyank_version', v_package, unyank_version.version);
    UPDATE piw.versions v SET yanked = false, yank_reason = ''
     WHERE v.package = v_package AND v.version = unyank_version.version;
    PERFORM piw._audit_end(v_audit);
END
$$;

COMMENT ON PROCEDURE piw.unyank_version(text, text) IS
'Undo a yank (its reason goes too); the package''s pages are rebuilt. P0002 if the package or version does not exist, PW005 if it is not yanked. Appends to piw.audit. Example: CALL piw.unyank_version(''foo'', ''1.0'');';
