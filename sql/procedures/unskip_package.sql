-- unskip_package: build and publish a skipped package again.
CREATE OR REPLACE PROCEDURE piw.unskip_package(package text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_package text := piw._existing_package(unskip_package.package);
    v_audit   bigint;
BEGIN
    IF (SELECT p.skip FROM piw.packages p WHERE p.package = v_package) = '' THEN
        RAISE EXCEPTION 'package % is not skipped', v_package USING ERRCODE = 'PW001';
    END IF;
    v_audit := piw._audit_begin('unskip_package', v_package);
    UPDATE piw.packages p SET skip = '' WHERE p.package = v_package;
    PERFORM piw._audit_end(v_audit);
END
$$;

COMMENT ON PROCEDURE piw.unskip_package(text) IS
'Clear a package''s skip mark; its pages are rebuilt. P0002 if it does not exist, PW001 if it is not skipped. Appends to piw.audit. Example: CALL piw.unskip_package(''foo'');';
