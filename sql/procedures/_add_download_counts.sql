-- _add_download_counts: add downloads of files to their packages' counts and totals.
--
-- No SECURITY DEFINER or SET search_path of its own, as piw._enqueue: it runs inside piw's
-- routines, which are both; a role calling it directly runs it as itself and may not write the
-- counts.
CREATE OR REPLACE FUNCTION piw._add_download_counts(tallies piw.download_tally[], folded_before date)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    v_rows bigint;
BEGIN
    -- A download is its file's package's, as the file's row says now (a file piw does not know
    -- counts under ''). Days before folded_before are counted together, as '-infinity'. Each
    -- table in key order, counts before totals, so that two transactions adding to the same
    -- packages never wait for each other in a circle. The totals take the same sums (see V021).
    WITH tallied AS (
        SELECT coalesce(b.package, '') AS package,
               CASE WHEN t.day < _add_download_counts.folded_before THEN '-infinity'::date ELSE t.day END AS day,
               sum(t.downloads)::bigint AS downloads
          FROM unnest(_add_download_counts.tallies) AS t
          LEFT JOIN piw.files f ON f.filename = t.filename
          LEFT JOIN piw.builds b ON b.build_id = f.build_id
         GROUP BY 1, 2
    ), counts AS (
        INSERT INTO piw.download_counts AS c (package, day, downloads)
        SELECT t.package, t.day, t.downloads
          FROM tallied t
         ORDER BY t.package, t.day
            ON CONFLICT (package, day) DO UPDATE SET downloads = c.downloads + excluded.downloads
        RETURNING 1
    ), totals AS (
        INSERT INTO piw.download_totals AS s (package, recent, total)
        SELECT t.package,
               coalesce(sum(t.downloads) FILTER (WHERE t.day > '-infinity'), 0)::bigint,
               sum(t.downloads)::bigint
          FROM tallied t
         GROUP BY t.package
         ORDER BY t.package
            ON CONFLICT (package) DO UPDATE SET recent = s.recent + excluded.recent, total = s.total + excluded.total
        RETURNING 1
    )
    SELECT count(*) INTO v_rows FROM counts;
    RETURN v_rows;
END
$$;

COMMENT ON FUNCTION piw._add_download_counts(piw.download_tally[], date) IS
'internal: add tallies (filename, UTC day, downloads) to piw.download_counts and piw.download_totals under their files'' packages ('''' if unknown), days before folded_before as ''-infinity''; returns the counts changed';
