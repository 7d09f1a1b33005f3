-- unskip_version: build and publish a skipped version again.
CREATE OR REPLACE PROCEDURE piw.unskip_version(package text, version text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_package text := piw._existing_version(unskip_version.package, unskip_version.version);
BEGIN
    UPDATE piw.versions v SET skip = ''
     WHERE v.package = v_package AND v.version = unskip_version.version;
END
$$;

COMMENT ON PROCEDURE piw.unskip_version(text, text) IS
'Clear a version''s skip mark; the package''s pages are rebuilt. P0002 if the package or version does not exist. Example: CALL piw.unskip_version(''foo'', ''1.0'');';
