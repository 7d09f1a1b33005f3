-- skip_package: never build a package again; it leaves the indexes.
CREATE OR REPLACE PROCEDURE piw.skip_package(package text, reason text DEFAULT 'skipped by admin')
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_package text := piw._existing_package(skip_package.package);
    v_reason  text := piw._reason_arg(skip_package.reason);
    v_audit   bigint;
BEGIN
    v_audit := piw._audit_begin('skip_package', v_package, NULL, v_reason);
    UPDATE piw.packages p SET skip = v_reason WHERE p.package = v_package;
    PERFORM piw._audit_end(v_audit);
END
$$;

COMMENT ON PROCEDURE piw.skip_package(text, text) IS
'Mark a package skipped with a reason: it is never built again and its files are no longer published; its pages are rebuilt. P0002 if it does not exist, 22023 for an empty reason. Skipping what is skipped replaces the reason. Appends to piw.audit. Example: CALL piw.skip_package(''foo'', ''license forbids redistribution'');';
