-- _printable: text made safe to show on one line of a terminal.
CREATE OR REPLACE FUNCTION piw._printable(value text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT
AS $$
    -- Control characters would break the line; zero-width and direction-changing characters
    -- (U+200B-U+200F, U+202A-U+202E, U+2060-U+2064, U+2066-U+2069, U+FEFF) would make a terminal
    -- show something other than what was given.
    SELECT regexp_replace(_printable.value,
                          '[[:cntrl:]\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]', '?', 'g')
$$;

COMMENT ON FUNCTION piw._printable(text) IS 'internal: replace control, invisible and direction-changing characters with "?", for error messages';
