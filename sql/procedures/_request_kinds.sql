-- _request_kinds: the kinds of job one request becomes.
--
-- Requests are what admin calls and triggers log (piw.requests); jobs are what listeners claim
-- (piw.jobs). They share their kinds but one: 'index', a package's simple and project pages,
-- logged as one row (an admin call's cost is mostly the rows it writes) and claimed as two jobs
-- (each page has its own outcome and its own place in the queue).
CREATE OR REPLACE FUNCTION piw._request_kinds(kind text)
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN _request_kinds.kind = 'index' THEN ARRAY['simple', 'project'] ELSE ARRAY[_request_kinds.kind] END
$$;

COMMENT ON FUNCTION piw._request_kinds(text) IS 'internal: the job kinds a request of this kind becomes (index: simple and project; any other: itself)';
