-- _version_arg: validate a version argument, or raise 22023.
CREATE OR REPLACE FUNCTION piw._version_arg(version text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF _version_arg.version IS NULL OR _version_arg.version = '' THEN
        RAISE EXCEPTION 'version must not be empty'
            USING ERRCODE = '22023';
    END IF;
    IF _version_arg.version ~ '[[:space:][:cntrl:]]' OR length(_version_arg.version) > 200 THEN
        RAISE EXCEPTION 'invalid version %', piw._quote_arg(_version_arg.version)
            USING ERRCODE = '22023',
                  HINT = 'a version has at most 200 characters and no white space or control characters';
    END IF;
    RETURN _version_arg.version;
END
$$;

COMMENT ON FUNCTION piw._version_arg(text) IS 'internal: validate a version argument (22023 if invalid) and return it unchanged';
