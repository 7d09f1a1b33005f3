-- _existing_package: lock a package row for the caller's transaction, or raise P0002.
CREATE OR REPLACE FUNCTION piw._existing_package(package text)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    v_package text := piw._package_arg(_existing_package.package);
BEGIN
    PERFORM 1 FROM piw.packages p WHERE p.package = v_package FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM piw._removed_before(v_package);
        RAISE EXCEPTION 'package % does not exist', v_package
            USING ERRCODE = 'P0002';
    END IF;
    RETURN v_package;
END
$$;

COMMENT ON FUNCTION piw._existing_package(text) IS 'internal: normalize and validate a package argument, lock its row, return its name; P0002 if there is no such package; the message says when and by whom it was removed when the audit log knows';
