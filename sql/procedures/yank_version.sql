-- yank_version: PEP 592 yank; the files stay, marked data-yanked.
CREATE OR REPLACE PROCEDURE piw.yank_version(package text, version text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_package text := piw._existing_version(yank_version.package, yank_version.version);
BEGIN
    UPDATE piw.versions v SET yanked = true
     WHERE v.package = v_package AND v.version = yank_version.version;
END
$$;

COMMENT ON PROCEDURE piw.yank_version(text, text) IS
'Yank a version (PEP 592): its files stay on the simple page with data-yanked, so installers skip them unless pinned; the package''s pages are rebuilt. P0002 if the package or version does not exist. Example: CALL piw.yank_version(''foo'', ''1.0'');';
