-- set_site_url: where the site is served, for the install lines of its pages.
CREATE OR REPLACE PROCEDURE piw.set_site_url(url text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_url   text := rtrim(btrim(coalesce(set_site_url.url, '')), '/');
    v_audit bigint;
BEGIN
    IF v_url <> '' AND v_url !~ '^https?://[^[:space:][:cntrl:]"''<>\\`]+$' THEN
        RAISE EXCEPTION 'site url % is not an http or https address', piw._quote_arg(set_site_url.url)
            USING ERRCODE = '22023';
    END IF;
    v_audit := piw._audit_begin('set_site_url', NULL, NULL, v_url);
    UPDATE piw.site s SET url = v_url WHERE s.url IS DISTINCT FROM v_url;
    PERFORM piw._audit_end(v_audit);
END
$$;

COMMENT ON PROCEDURE piw.set_site_url(text) IS
'Set the address the output path is served at (http or https; a trailing slash is dropped; '''' for none). The home page and every project page are rebuilt to show pip install --index-url URL/simple/ PACKAGE. 22023 for anything but an http or https address. Appends to piw.audit (the address as its reason). Example: CALL piw.set_site_url(''https://wheels.example.org'');';
