-- skip_version: never build a version again; it leaves the package's pages.
CREATE OR REPLACE PROCEDURE piw.skip_version(package text, version text, reason text DEFAULT 'skipped by admin')
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_package text := piw._existing_version(skip_version.package, skip_version.version);
    v_reason  text := piw._reason_arg(skip_version.reason);
BEGIN
    UPDATE piw.versions v SET skip = v_reason
     WHERE v.package = v_package AND v.version = skip_version.version;
END
$$;

COMMENT ON PROCEDURE piw.skip_version(text, text, text) IS
'Mark a version skipped with a reason: it is never built again and its files vanish from the simple page; the package''s pages are rebuilt. P0002 if the package or version does not exist. Example: CALL piw.skip_version(''foo'', ''1.0'', ''broken upstream'');';
