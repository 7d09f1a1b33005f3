-- _removed_before: a package or version that does not exist may have been removed: say when and by
-- whom (from the audit log) rather than only that it is not there. P0002 (what an unknown name
-- raises) for a row that is gone; PW003 for a version kept, marked skipped, by a removal.
CREATE OR REPLACE FUNCTION piw._removed_before(package text, version text DEFAULT NULL, errcode text DEFAULT 'P0002')
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_removal piw.audit%ROWTYPE;
BEGIN
    SELECT * INTO v_removal
      FROM piw.audit a
     WHERE a.package = _removed_before.package
       AND (a.action = 'remove_package'
            OR (a.action = 'remove_version' AND a.version = _removed_before.version))
     ORDER BY a.audit_id DESC
     LIMIT 1;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF _removed_before.version IS NULL THEN
        RAISE EXCEPTION 'package % was removed at % by %', _removed_before.package,
                        piw._when(v_removal.logged_at), v_removal.role_name
            USING ERRCODE = _removed_before.errcode;
    END IF;
    RAISE EXCEPTION 'version % of package % was removed at % by %', piw._printable(_removed_before.version),
                    _removed_before.package, piw._when(v_removal.logged_at), v_removal.role_name
        USING ERRCODE = _removed_before.errcode;
END
$$;

COMMENT ON FUNCTION piw._removed_before(text, text, text) IS 'internal: raise errcode naming when and by whom a package (version null) or version was removed, if the audit log says it was; return otherwise';
