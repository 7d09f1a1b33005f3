-- _package_arg: validate a package argument and return its normalized name, or raise 22023.
CREATE OR REPLACE FUNCTION piw._package_arg(package text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF _package_arg.package IS NULL OR _package_arg.package = '' THEN
        RAISE EXCEPTION 'package name must not be empty'
            USING ERRCODE = '22023';
    END IF;
    -- PEP 508 names: ASCII letters and digits, with ".", "-" and "_" inside. Anything else (spaces,
    -- quotes, "/", look-alike Unicode) cannot name a package, so it is refused rather than looked up.
    IF _package_arg.package !~ '^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$' OR length(_package_arg.package) > 200 THEN
        RAISE EXCEPTION 'invalid package name %', piw._quote_arg(_package_arg.package)
            USING ERRCODE = '22023',
                  HINT = 'a package name has at most 200 ASCII letters, digits, ".", "-" and "_", and starts and ends with a letter or digit';
    END IF;
    RETURN piw.normalize_name(_package_arg.package);
END
$$;

COMMENT ON FUNCTION piw._package_arg(text) IS 'internal: validate a package argument (22023 if invalid) and return its PEP 503 normalized name';
