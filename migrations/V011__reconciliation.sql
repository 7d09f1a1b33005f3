-- V011: a full rebuild of the index also makes the tree match the rows (job kind 'reconcile').
--
-- Nothing used to remove what no row describes: a wheel left by an importer killed between
-- putting it in place and committing, the directories of a renamed package, the wheels piwheels'
-- removals left behind on sites migrated from it. piw.rebuild('index') for every package now
-- queues a 'reconcile' job, which removes pages, directories and wheels that no row describes
-- and reports published rows whose wheel is missing; each run leaves a row here.

ALTER TABLE piw.jobs DROP CONSTRAINT jobs_kind_check;
ALTER TABLE piw.jobs ADD CONSTRAINT jobs_kind_check CHECK (kind IN (
    'home', 'search', 'simple_root', 'simple', 'project',
    'simple_all', 'project_all', 'delete_wheel', 'delete_package', 'reconcile'));
COMMENT ON COLUMN piw.jobs.kind IS 'home, search, simple_root: one page each; simple, project: one package''s pages; simple_all, project_all: every package; delete_wheel: simple/PACKAGE/FILENAME; delete_package: a package''s directories; reconcile: make the tree match the rows';

CREATE TABLE piw.reconciliations (
    reconciliation_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    finished_at         timestamptz NOT NULL DEFAULT now(),
    removed_wheels      integer NOT NULL,
    moved_wheels        integer NOT NULL,
    removed_directories integer NOT NULL,
    removed_other       integer NOT NULL,
    missing_wheels      integer NOT NULL,
    removed             text[] NOT NULL DEFAULT '{}',
    missing             text[] NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE piw.reconciliations IS 'one row per reconciliation of the tree with the rows (a full rebuild of the index): what it removed, and the published wheels it found missing';
COMMENT ON COLUMN piw.reconciliations.removed_wheels IS 'wheels under simple/ that no row of piw.files describes, deleted';
COMMENT ON COLUMN piw.reconciliations.moved_wheels IS 'wheels found under another package''s directory than their row''s, moved there';
COMMENT ON COLUMN piw.reconciliations.removed_directories IS 'directories of packages that have no row (simple/ and project/ count apart)';
COMMENT ON COLUMN piw.reconciliations.removed_other IS 'anything else no row describes inside a package''s directories, and temporary files left by killed writers';
COMMENT ON COLUMN piw.reconciliations.missing_wheels IS 'rows of piw.files whose wheel is not on disk (pip gets a 404 for them); reported, not changed';
COMMENT ON COLUMN piw.reconciliations.removed IS 'the paths removed (relative to the output path), the first 100';
COMMENT ON COLUMN piw.reconciliations.missing IS 'the paths of missing wheels, the first 100';
