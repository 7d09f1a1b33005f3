-- rebuild: queue a rebuild of part of the website.
CREATE OR REPLACE PROCEDURE piw.rebuild(part text, package text DEFAULT NULL)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_package text;
BEGIN
    IF rebuild.part IS NULL OR rebuild.part NOT IN ('home', 'search', 'project', 'index') THEN
        RAISE EXCEPTION 'unknown part %', coalesce(piw._quote_arg(rebuild.part), 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'part is one of home, search, project, index';
    END IF;
    IF rebuild.part IN ('home', 'search') THEN
        IF rebuild.package IS NOT NULL THEN
            RAISE EXCEPTION 'part % takes no package', rebuild.part
                USING ERRCODE = '22023';
        END IF;
        INSERT INTO piw.requests (kind) VALUES (rebuild.part);
    ELSIF rebuild.package IS NULL THEN
        -- Every package: one job that streams them all, not one job per package. A full
        -- rebuild of the index also reconciles the tree with the rows, once the pages are done.
        IF rebuild.part = 'index' THEN
            INSERT INTO piw.requests (kind) VALUES ('simple_all'), ('project_all'), ('simple_root'), ('reconcile');
        ELSE
            INSERT INTO piw.requests (kind) VALUES ('project_all');
        END IF;
    ELSE
        -- One request for the package's pages whatever the part: 'index' stands for its simple
        -- and project pages (piw.claim_jobs makes a job of each), so the call logs one row, not
        -- two (pgbench, 16 clients: ~7% more calls a second).
        -- A package's own name, what callers nearly always pass, needs neither validation nor
        -- normalization: piw.packages holds normalized names only. The insert is the lookup.
        INSERT INTO piw.requests (kind, package)
        SELECT rebuild.part, p.package FROM piw.packages p WHERE p.package = rebuild.package;
        IF NOT FOUND THEN
            v_package := piw._package_arg(rebuild.package);
            IF NOT EXISTS (SELECT 1 FROM piw.packages p WHERE p.package = v_package) THEN
                RAISE EXCEPTION 'package % does not exist', v_package
                    USING ERRCODE = 'P0002';
            END IF;
            INSERT INTO piw.requests (kind, package) VALUES (rebuild.part, v_package);
        END IF;
    END IF;
    -- Called by a trigger (a change of the site's address), the rebuild is part of that change,
    -- which the audit has already.
    IF pg_trigger_depth() = 0 THEN
        INSERT INTO piw.audit (action, package, changed)
        VALUES ('rebuild', coalesce(v_package, rebuild.package), jsonb_build_object('part', rebuild.part));
    END IF;
    -- The requests are logged by plain inserts rather than through piw._enqueue, whose array of
    -- targets (made for the triggers' sets of rows) cost a fifth of this call's throughput. The
    -- wake-up below is piw._wake_listeners's decision, written out here (see there why it is
    -- safe; a unit test in src/schema.rs holds the two alike): the nested PL/pgSQL call was a
    -- tenth of this call's instructions. Measured with callgrind over 3,000 calls in a
    -- single-user backend, beyond a bare SELECT's cost: ~185,000 instructions a call before the
    -- package's fast path, the insert as lookup and this, ~128,000 after (a plain INSERT ~72,000).
    BEGIN
        LOCK TABLE piw.wake_lock IN ROW EXCLUSIVE MODE NOWAIT;
    EXCEPTION WHEN lock_not_available THEN
        PERFORM pg_notify('piw_jobs', '');
    END;
END
$$;

COMMENT ON PROCEDURE piw.rebuild(text, text) IS
'Queue a rebuild of part of the website: home (index.html), search (packages.json), project (project/PACKAGE/ pages) or index (simple/PACKAGE/index.html and the project pages). With project or index, a null package means every package (and index then rebuilds simple/index.html too, and reconciles the tree with the rows: pages, directories and wheels that no row describes are removed, and missing wheels are reported in piw.reconciliations). 22023 for an unknown part or a package given with home or search; P0002 for an unknown package. Appends to piw.audit. Example: CALL piw.rebuild(''index'', ''foo'');';
