-- _quote_arg: a hostile argument made fit for a one-line error message.
CREATE OR REPLACE FUNCTION piw._quote_arg(value text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT
AS $$
    SELECT quote_literal(
        piw._printable(left(_quote_arg.value, 60))
        || CASE WHEN length(_quote_arg.value) > 60 THEN '...' ELSE '' END)
$$;

COMMENT ON FUNCTION piw._quote_arg(text) IS 'internal: quote an argument for an error message: control, invisible and direction-changing characters become "?" (see piw._printable), at most 60 characters are shown';
