-- yank_version: PEP 592 yank, with its reason; the files stay, marked data-yanked.
CREATE OR REPLACE PROCEDURE piw.yank_version(package text, version text, reason text DEFAULT '')
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_package text := piw._existing_version(yank_version.package, yank_version.version);
BEGIN
    IF yank_version.reason IS NULL OR length(yank_version.reason) > 1000 THEN
        RAISE EXCEPTION 'yank reason must be text of at most 1000 characters'
            USING ERRCODE = '22023';
    END IF;
    UPDATE piw.versions v SET yanked = true, yank_reason = btrim(yank_version.reason)
     WHERE v.package = v_package AND v.version = yank_version.version;
END
$$;

COMMENT ON PROCEDURE piw.yank_version(text, text, text) IS
'Yank a version (PEP 592), with an optional reason: its files stay on the simple page with data-yanked="REASON", so installers skip them unless pinned (pip then shows the reason); the package''s pages are rebuilt. Yanking a yanked version replaces its reason. P0002 if the package or version does not exist, 22023 for a reason over 1000 characters. Example: CALL piw.yank_version(''foo'', ''1.0'', ''broken on Python 3.12'');';
