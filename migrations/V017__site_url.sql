-- V017: the site's own address, for the install lines of its pages.
--
-- Pages said "pip install --extra-index-url URL/simple/ PACKAGE", URL a placeholder. The address
-- is a property of the site, so it lives with the rows: every listener renders the same pages
-- from it (a setting per listener would let two listeners write two versions of every page in
-- turn). One row; `piw.set_site_url(url)` (or piw-initdb with the configuration key site_url)
-- sets it, and a change rebuilds the home page and every project page. The trigger's body lives
-- in sql/procedures/, applied after the migrations.

CREATE TABLE piw.site (
    one_row boolean PRIMARY KEY DEFAULT true CHECK (one_row),
    url     text NOT NULL DEFAULT '' CHECK (url = '' OR url ~ '^https?://[^[:space:][:cntrl:]"''<>\\`]+$')
);
INSERT INTO piw.site DEFAULT VALUES;
COMMENT ON TABLE piw.site IS 'the site itself: one row';
COMMENT ON COLUMN piw.site.url IS 'where the output path is served (http or https, no trailing slash needed), shown in the install lines of the pages as URL/simple/; '''' when unknown (the pages then name no address)';

CREATE FUNCTION piw._site_updated() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
CREATE TRIGGER _900_enqueue_update AFTER UPDATE ON piw.site
    FOR EACH STATEMENT EXECUTE FUNCTION piw._site_updated();
