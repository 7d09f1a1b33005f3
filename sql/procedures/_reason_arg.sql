-- _reason_arg: validate a skip reason, or raise 22023.
CREATE OR REPLACE FUNCTION piw._reason_arg(reason text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    -- '' means "not skipped" in the tables, so an empty reason would silently unskip; a blank one
    -- (spaces, tabs, newlines: btrim alone strips only spaces) would skip for no visible reason.
    IF _reason_arg.reason IS NULL OR _reason_arg.reason !~ '[^[:space:]]' THEN
        RAISE EXCEPTION 'skip reason must not be empty'
            USING ERRCODE = '22023';
    END IF;
    IF length(_reason_arg.reason) > 1000 THEN
        RAISE EXCEPTION 'skip reason is longer than 1000 characters'
            USING ERRCODE = '22023';
    END IF;
    RETURN _reason_arg.reason;
END
$$;

COMMENT ON FUNCTION piw._reason_arg(text) IS 'internal: validate a skip reason (22023 if null, blank or over 1000 characters)';
