-- Run by piw-initdb after the migrations and procedures: who may do what. Idempotent.
-- piw_admin: every procedure, every table. piw_operator: what a reader may, and the procedures
-- that keep the site running (rebuild, retry, cancel; hold and release), none that removes,
-- skips or yanks. piw_reader: read every table, the queue's status and the audit log.
-- PUBLIC: nothing. Procedures are SECURITY DEFINER, so the tables need no grants for them to work.
COMMENT ON ROLE piw_admin IS 'piw: may call every procedure and read and write every table';
COMMENT ON ROLE piw_reader IS 'piw: may read every table (the audit log too), piw.queue_status(), piw.listener_status(), piw.request_jobs(), piw.plan() and piw.uncounted_downloads()';
COMMENT ON ROLE piw_operator IS 'piw: may do what piw_reader may, rebuild, retry and cancel jobs (piw.rebuild, piw.retry_failed, piw.retry_jobs, piw.cancel_jobs), count downloads (piw.count_downloads), and hold and release versions (piw.hold_version, piw.release_version); not remove, skip or yank';

REVOKE ALL ON SCHEMA piw FROM PUBLIC;
GRANT USAGE ON SCHEMA piw TO piw_admin, piw_reader, piw_operator;

REVOKE ALL ON ALL TABLES IN SCHEMA piw FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA piw FROM PUBLIC;
REVOKE ALL ON ALL ROUTINES IN SCHEMA piw FROM PUBLIC;

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA piw TO piw_admin;
-- The migration history is piw-initdb's alone: a hand-edited row would make it skip or redo a migration.
REVOKE INSERT, UPDATE, DELETE ON piw.refinery_schema_history FROM piw_admin;
-- Requests are written by piw's routines alone: the listener moves them into piw.jobs as they are,
-- and a request of an unknown kind would stop it there. (piw.jobs, which checks its rows, may be
-- written directly.)
REVOKE INSERT, UPDATE ON piw.requests FROM piw_admin;
-- The audit log is append-only, and only piw's routines append (with the caller's session_user):
-- an admin can neither forge, change nor delete an entry. Its owner alone can prune it.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON piw.audit FROM piw_admin;
-- Download counts follow the log (piw.count_downloads and the log's triggers keep them): a count
-- written by hand would be neither the log's nor undone by it. Which transaction logged a
-- download is the log's own record: a row claiming another would be counted late or never.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON piw.download_counts, piw.download_totals, piw.download_counting FROM piw_admin;
REVOKE INSERT, UPDATE ON piw.downloads FROM piw_admin;
GRANT INSERT (filename, accessed_by, accessed_at, arch, distro_name, distro_version, os_name, os_version,
              py_name, py_version, installer_name, installer_version, setuptools_version),
      UPDATE (filename, accessed_by, accessed_at, arch, distro_name, distro_version, os_name, os_version,
              py_name, py_version, installer_name, installer_version, setuptools_version)
   ON piw.downloads TO piw_admin;
-- piw's locks are locks on these tables (see V010): no role but their owner has any privilege on
-- them, so only piw's routines can lock them (LOCK TABLE and row locks need one).
REVOKE ALL ON piw.wake_lock, piw.claim_lock, piw.listener_presence, piw.wheel_locks FROM piw_admin;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA piw TO piw_admin;
GRANT EXECUTE ON ALL ROUTINES IN SCHEMA piw TO piw_admin;

GRANT SELECT ON ALL TABLES IN SCHEMA piw TO piw_reader;
REVOKE ALL ON piw.wake_lock, piw.claim_lock, piw.listener_presence, piw.wheel_locks FROM piw_reader;
GRANT EXECUTE ON FUNCTION piw.queue_status() TO piw_reader;
GRANT EXECUTE ON FUNCTION piw.normalize_name(text) TO piw_reader;
GRANT EXECUTE ON FUNCTION piw.listener_status() TO piw_reader;
GRANT EXECUTE ON FUNCTION piw.request_jobs(xid8) TO piw_reader;
GRANT EXECUTE ON FUNCTION piw.plan() TO piw_reader;
GRANT EXECUTE ON FUNCTION piw.uncounted_downloads() TO piw_reader;

-- Operators look as readers do, and keep the site running.
GRANT piw_reader TO piw_operator;
GRANT EXECUTE ON PROCEDURE piw.rebuild(text, text) TO piw_operator;
GRANT EXECUTE ON PROCEDURE piw.retry_failed() TO piw_operator;
GRANT EXECUTE ON PROCEDURE piw.retry_jobs(text, bigint) TO piw_operator;
GRANT EXECUTE ON PROCEDURE piw.cancel_jobs(text) TO piw_operator;
GRANT EXECUTE ON FUNCTION piw.count_downloads(interval) TO piw_operator;
-- Holding keeps the wheels (nothing is lost, release undoes it): an operator's call, unlike a
-- removal or a skip.
GRANT EXECUTE ON PROCEDURE piw.hold_version(text, text, text) TO piw_operator;
GRANT EXECUTE ON PROCEDURE piw.release_version(text, text) TO piw_operator;
