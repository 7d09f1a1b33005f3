-- skip_package: never build a package again; it leaves the indexes.
CREATE OR REPLACE PROCEDURE piw.skip_package(package text, reason text DEFAULT 'skipped by admin')
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_package text := piw._existing_package(skip_package.package);
    v_reason  text := piw._reason_arg(skip_package.reason);
BEGIN
    UPDATE piw.packages p SET skip = v_reason WHERE p.package = v_package;
END
$$;

COMMENT ON PROCEDURE piw.skip_package(text, text) IS
'Mark a package skipped with a reason: it is never built again and its files are no longer published; its pages are rebuilt. P0002 if it does not exist, 22023 for an empty reason. Example: CALL piw.skip_package(''foo'', ''license forbids redistribution'');';
