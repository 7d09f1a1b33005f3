-- V019: hold a version (issue 18): its wheels are kept but withheld, neither linked nor served,
-- until it is released. Skipped packages and versions are withheld the same way: a skipped
-- package's wheels used to stay downloadable by URL under simple/.
--
-- versions.held is the reason ('' = not held), like skip. A withheld wheel (and its .metadata)
-- lives under .withheld/PACKAGE/ at the top of the output path, outside the served tree (the
-- nginx snippet refuses every dot path). A new job kind, place_wheel (target: package and
-- filename), moves one wheel to where its row says; the UPDATE triggers of packages and versions
-- (bodies in sql/procedures/) queue one for each file whose publication changed.

ALTER TABLE piw.versions ADD COLUMN held text NOT NULL DEFAULT '' CHECK (length(held) <= 1000);
COMMENT ON COLUMN piw.versions.held IS 'why the version is held (piw.hold_version): its wheels are kept under .withheld/PACKAGE/, neither linked nor served; '''' when not held';

ALTER TABLE piw.jobs DROP CONSTRAINT jobs_kind_check;
ALTER TABLE piw.jobs ADD CONSTRAINT jobs_kind_check CHECK (kind IN (
    'home', 'search', 'simple_root', 'simple', 'project',
    'simple_all', 'project_all', 'delete_wheel', 'delete_package', 'reconcile', 'place_wheel'));
COMMENT ON COLUMN piw.jobs.kind IS 'home, search, simple_root: one page each; simple, project: one package''s pages; simple_all, project_all: every package; delete_wheel: a wheel whose row went (simple/PACKAGE/FILENAME or .withheld/PACKAGE/FILENAME); delete_package: a package''s directories; reconcile: make the tree match the rows; place_wheel: move a wheel to where its row says (published: simple/PACKAGE/; withheld: .withheld/PACKAGE/)';
