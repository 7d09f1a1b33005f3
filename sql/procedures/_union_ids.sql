-- _union_ids: the request ids of two sets of requests folded into one job.
CREATE OR REPLACE FUNCTION piw._union_ids(a xid8[], b xid8[])
RETURNS xid8[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    -- Folding usually adds nothing new (the same transaction's requests, or none): keep a's array.
    SELECT CASE WHEN b IS NULL OR b <@ a THEN a
                ELSE ARRAY(SELECT DISTINCT i FROM unnest(a || b) AS i) END
$$;

COMMENT ON FUNCTION piw._union_ids(xid8[], xid8[]) IS 'internal: the ids in either array, each once';
