-- _add_download_counts: add downloads of files to their packages' counts.
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
    -- The packages' totals first, created if missing and locked, in package order: the counts'
    -- triggers then update them in two passes (see V021) without waiting on anyone.
    INSERT INTO piw.download_totals AS s (package, recent, total)
    SELECT DISTINCT coalesce(b.package, ''), 0, 0
      FROM unnest(_add_download_counts.tallies) AS t
      LEFT JOIN piw.files f ON f.filename = t.filename
      LEFT JOIN piw.builds b ON b.build_id = f.build_id
     ORDER BY 1
        ON CONFLICT (package) DO UPDATE SET total = s.total WHERE false;
    -- A download is its file's package's, as the file's row says now (a file piw does not know
    -- counts under ''). Days before folded_before are counted together, as '-infinity'. In key
    -- order, so that two transactions adding to the same counts never wait for each other in a
    -- circle.
    INSERT INTO piw.download_counts AS c (package, day, downloads)
    SELECT coalesce(b.package, ''),
           CASE WHEN t.day < _add_download_counts.folded_before THEN '-infinity'::date ELSE t.day END,
           sum(t.downloads)::bigint
      FROM unnest(_add_download_counts.tallies) AS t
      LEFT JOIN piw.files f ON f.filename = t.filename
      LEFT JOIN piw.builds b ON b.build_id = f.build_id
     GROUP BY 1, 2
     ORDER BY 1, 2
        ON CONFLICT (package, day) DO UPDATE SET downloads = c.downloads + excluded.downloads;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN v_rows;
END
$$;

COMMENT ON FUNCTION piw._add_download_counts(piw.download_tally[], date) IS
'internal: add tallies (filename, UTC day, downloads) to piw.download_counts (piw.download_totals follows by trigger) under their files'' packages ('''' if unknown), days before folded_before as ''-infinity''; returns the counts changed';
