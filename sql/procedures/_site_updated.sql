-- _site_updated: the site's address shows on the home page and on every project page.
CREATE OR REPLACE FUNCTION piw._site_updated()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    CALL piw.rebuild('home');
    CALL piw.rebuild('project');
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION piw._site_updated() IS 'trigger (site): queue the home page and every project page, which show the site''s address';
