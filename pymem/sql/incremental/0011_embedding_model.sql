-- 0011_embedding_model: the one embedding model whose vectors fill _pymem.memories.embedding.
-- Incremental file: run once by alembic revision 0011, then frozen.
--
-- A database holds one model's vectors: cosine between two models' vectors means nothing,
-- and a different dimension count cannot even be compared. Clients, workers and the service
-- read this row when they start and refuse an embedder that is not this model
-- (pymem/embed.py check_embedder); _pymem.check_embedding refuses vectors of another size.
-- Databases created before this file held all-MiniLM-L6-v2 at 384 dimensions (the only
-- size the column took), which is what they are recorded with.
--
--   next_*   a change of model in progress (`pymem embeddings reembed`): the new model's
--            vectors go to the column embedding_next until the switch.

create table _pymem.embedding_model (
    singleton       boolean primary key default true check (singleton),
    model           text not null check (length(model) between 1 and 200),
    dimensions      integer not null check (dimensions between 1 and 2000),
    recorded_at     timestamptz not null default now(),
    next_model      text check (length(next_model) between 1 and 200),
    next_dimensions integer check (next_dimensions between 1 and 2000),
    next_started_at timestamptz,
    check ((next_model is null) = (next_dimensions is null) and (next_model is null) = (next_started_at is null))
);
revoke all on _pymem.embedding_model from public;

insert into _pymem.embedding_model (model, dimensions) values ('sentence-transformers/all-MiniLM-L6-v2', 384);
