-- unyank_version: undo a PEP 592 yank.
CREATE OR REPLACE PROCEDURE piw.unyank_version(package text, version text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_package text := piw._existing_version(unyank_version.package, unyank_version.version);
BEGIN
    UPDATE piw.versions v SET yanked = false, yank_reason = ''
     WHERE v.package = v_package AND v.version = unyank_version.version;
END
$$;

COMMENT ON PROCEDURE piw.unyank_version(text, text) IS
'Undo a yank (its reason goes too); the package''s pages are rebuilt. P0002 if the package or version does not exist. Example: CALL piw.unyank_version(''foo'', ''1.0'');';
