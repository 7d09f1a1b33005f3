-- V016: a package's name as its project spells it (`Jinja2`, `zope.event`), for the pages.
--
-- piw.packages.package is the PEP 503 normalized name (`jinja2`, `zope-event`), the key and the
-- path; piw-import records METADATA's Name here, so that project pages show the project's own
-- spelling. '' when no wheel has said it (rows from psql or piwheels): the pages then show the
-- normalized name.

ALTER TABLE piw.packages ADD COLUMN display_name text NOT NULL DEFAULT ''
    CHECK (length(display_name) <= 200 AND display_name !~ '[[:cntrl:]]');
COMMENT ON COLUMN piw.packages.display_name IS 'the project''s own spelling of its name (METADATA Name of the last wheel imported), shown on its pages; '''' when unknown';
