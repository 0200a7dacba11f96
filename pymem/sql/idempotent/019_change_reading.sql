-- 019_change_reading: how retrieve reads whether a statement announces a change, from the
-- change cue (017_cues.sql) and the learned change head (018_heads.sql, whose rows
-- `pymem bench heads --write-sql` rewrites; this reading is written by hand).

-- Whether a statement announces a change: it holds a change cue (_pymem.says, 017_cues.sql)
-- and the change head does not read it below its veto, or the head reads it above its
-- threshold without a cue. With no head for the database's embedding model (another model,
-- or none), the cue alone decides. pgvector's <#> is the negative inner product; text and
-- embedding are values, never SQL.
create or replace function _pymem.announces_change(p_text text, p_embedding vector) returns boolean
    language sql stable security invoker parallel safe
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
    select case when h.score is null then c.cue
                else (c.cue and (h.veto is null or h.score > h.veto)) or h.score > h.threshold end
    from (select _pymem.says(p_text, 'change') as cue) c
    left join lateral (
        select -(p_embedding <#> r.weights) + r.bias as score, r.veto, r.threshold
        from _pymem.reading_heads r
        where r.name = 'change' and r.dimensions = vector_dims(p_embedding)
          and r.model = (_pymem.current_embedding_model()).model) h on true
$$;
comment on function _pymem.announces_change(text, vector) is
    'Whether a statement announces a new value: a change cue the learned change head does not veto, or the head alone. Internal.';

-- Whether a statement says how things are for the user now, by the learned holds head: not
-- another person's value, a plan or a one-off, a hypothetical, a hedge or a question. True
-- above the head's threshold, and true where there is no head for the database's embedding
-- model or no embedding (the phrase rules of analyze_statement alone then decide, as before
-- the head). The write path (060_consistency.sql) lets the product's reading of a statement
-- replace the current memory of its slot only where this holds.
create or replace function _pymem.holds_now(p_embedding vector) returns boolean
    language sql stable security invoker parallel safe
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
    select coalesce((
        select -(p_embedding <#> r.weights) + r.bias > r.threshold
        from _pymem.reading_heads r
        where r.name = 'holds' and r.dimensions = vector_dims(p_embedding)
          and r.model = (_pymem.current_embedding_model()).model), true)
$$;
comment on function _pymem.holds_now(vector) is
    'Whether a statement holds for the user now, by the learned holds head (true without a head or an embedding). Internal.';

-- (A function _pymem.said_embedding(text, jsonb) read the turn a memory came from through the
-- partitioned parent table: planned without the tenant as a constant, it locked every
-- tenant's partition, so one tenant's locked partition stalled the others' retrieve. The
-- lookup is now made on the caller's own partition, in 040_retrieve.sql and 060_consistency.sql.)
drop function if exists _pymem.said_embedding(text, jsonb);
