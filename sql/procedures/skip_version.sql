-- skip_version: never build a version again; it leaves the package's pages.
CREATE OR REPLACE PROCEDURE piw.skip_version(package text, version text, reason text DEFAULT 'skipped by admin')
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_package text := piw._existing_version(skip_version.package, skip_version.version);
    v_reason  text := piw._reason_arg(skip_version.reason);
    v_audit   bigint;
BEGIN
    v_audit := piw._audit_begin('skip_version', v_package, skip_version.version, v_reason);
    UPDATE piw.versions v SET skip = v_reason
     WHERE v.package = v_package AND v.version = skip_version.version;
    PERFORM piw._audit_end(v_audit);
END
$$;

COMMENT ON PROCEDURE piw.skip_version(text, text, text) IS
'Mark a version skipped with a reason: it is never built again and its files vanish from the simple page; the package''s pages are rebuilt. P0002 if the package or version does not exist. Skipping what is skipped replaces the reason. Appends to piw.audit. Example: CALL piw.skip_version(''foo'', ''1.0'', ''broken upstream'');';
