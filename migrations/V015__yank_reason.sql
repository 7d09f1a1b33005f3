-- V015: a yank carries its reason (PEP 592 allows one; pip shows it when it installs a yanked
-- version that was pinned).
--
-- piw.yank_version gains a third argument, reason (default ''); the two-argument version goes,
-- or CALL piw.yank_version('foo', '1.0') would match both. (On a new database the procedures do
-- not exist yet when migrations run: IF EXISTS.)

ALTER TABLE piw.versions ADD COLUMN yank_reason text NOT NULL DEFAULT ''
    CHECK (length(yank_reason) <= 1000);
ALTER TABLE piw.versions ADD CONSTRAINT versions_yank_reason_only_when_yanked CHECK (yanked OR yank_reason = '');
COMMENT ON COLUMN piw.versions.yank_reason IS 'why the version is yanked (PEP 592), shown as data-yanked and on the project page; '''' when not yanked or for no stated reason';

DROP PROCEDURE IF EXISTS piw.yank_version(text, text);
