-- yank_version: PEP 592 yank, with its reason; the files stay, marked data-yanked.
CREATE OR REPLACE PROCEDURE piw.yank_version(package text, version text, reason text DEFAULT '')
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_package text := piw._existing_version(yank_version.package, yank_version.version);
    v_yanked  piw.versions%ROWTYPE;
    v_audit   bigint;
BEGIN
    IF yank_version.reason IS NULL OR length(yank_version.reason) > 1000 THEN
        RAISE EXCEPTION 'yank reason must be text of at most 1000 characters'
            USING ERRCODE = '22023';
    END IF;
    SELECT * INTO v_yanked FROM piw.versions v WHERE v.package = v_package AND v.version = yank_version.version;
    IF v_yanked.yanked THEN
        RAISE EXCEPTION 'version % of package % is already yanked%', piw._printable(yank_version.version), v_package,
                        CASE WHEN v_yanked.yank_reason <> '' THEN ' (' || v_yanked.yank_reason || ')' ELSE '' END
            USING ERRCODE = 'PW004', HINT = 'unyank it first to give another reason';
    END IF;
    v_audit := piw._audit_begin('yank_version', v_package, yank_version.version, btrim(yank_version.reason));
    UPDATE piw.versions v SET yanked = true, yank_reason = btrim(yank_version.reason)
     WHERE v.package = v_package AND v.version = yank_version.version;
    PERFORM piw._audit_end(v_audit);
END
$$;

COMMENT ON PROCEDURE piw.yank_version(text, text, text) IS
'Yank a version (PEP 592), with an optional reason: its files stay on the simple page with data-yanked="REASON", so installers skip them unless pinned (pip then shows the reason); the package''s pages are rebuilt. P0002 if the package or version does not exist, 22023 for a reason over 1000 characters, PW004 if it is yanked already. Appends to piw.audit. Example: CALL piw.yank_version(''foo'', ''1.0'', ''broken on Python 3.12'');';
