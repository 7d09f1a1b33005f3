-- V006: a package's simple and project pages are requested as one row.
--
-- piw.rebuild('index', package) and every trigger that touches a package logged two requests, one
-- per page; an admin call's cost is mostly the rows it writes. They now log one, of kind 'index',
-- which piw.claim_jobs turns into a job for each page (see piw._request_kinds).
COMMENT ON COLUMN piw.requests.kind IS 'as piw.jobs.kind, or index: a package''s simple and project pages (a job for each when claimed)';
