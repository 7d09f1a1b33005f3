-- unskip_package: build and publish a skipped package again.
CREATE OR REPLACE PROCEDURE piw.unskip_package(package text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_package text := piw._existing_package(unskip_package.package);
BEGIN
    UPDATE piw.packages p SET skip = '' WHERE p.package = v_package;
END
$$;

COMMENT ON PROCEDURE piw.unskip_package(text) IS
'Clear a package''s skip mark; its pages are rebuilt. P0002 if it does not exist. Example: CALL piw.unskip_package(''foo'');';
