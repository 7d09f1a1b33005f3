-- hold_version: withhold a version's wheels (kept on disk, neither linked nor served) until released.
CREATE OR REPLACE PROCEDURE piw.hold_version(package text, version text, reason text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_package text := piw._existing_version(hold_version.package, hold_version.version);
    v_audit   bigint;
BEGIN
    -- '' means "not held" in the table: an empty or blank reason would hold nothing.
    IF hold_version.reason IS NULL OR hold_version.reason !~ '[^[:space:]]' THEN
        RAISE EXCEPTION 'hold reason must not be empty' USING ERRCODE = '22023';
    END IF;
    IF length(hold_version.reason) > 1000 THEN
        RAISE EXCEPTION 'hold reason is longer than 1000 characters' USING ERRCODE = '22023';
    END IF;
    v_audit := piw._audit_begin('hold_version', v_package, hold_version.version, hold_version.reason);
    -- The versions trigger queues the move of each of its wheels out of the served tree (a
    -- version held already only changes its reason: nothing to move).
    UPDATE piw.versions v SET held = hold_version.reason
     WHERE v.package = v_package AND v.version = hold_version.version;
    PERFORM piw._audit_end(v_audit);
END
$$;

COMMENT ON PROCEDURE piw.hold_version(text, text, text) IS
'Hold a version with a reason: its wheels stay on disk but are withheld (moved to .withheld/PACKAGE/, outside the served tree), gone from the simple pages and listed as held on the project page; wheels imported into it later land withheld too. Holding a held version replaces the reason. P0002 if the package or version does not exist, 22023 for an empty reason or one over 1000 characters. Appends to piw.audit. Example: CALL piw.hold_version(''foo'', ''1.0'', ''waiting for the security review'');';
