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
