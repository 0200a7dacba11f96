-- Queries the benchmarks (pymem/bench/) run, by name, in the format of pymem/sql/queries.sql.
-- They run as the owner (building a corpus, ground truth) or as a tenant role (timing).
-- {placeholders} are identifiers, filled in with psycopg.sql.

-- name: corpus_table
-- Which corpus a benchmark database holds, so a later run can reuse it.
create table if not exists public.pymem_bench_corpus (
    singleton     boolean primary key default true check (singleton),
    spec          jsonb not null,
    memories      bigint not null,
    build_seconds double precision not null,
    built_at      timestamptz not null default now());

-- name: corpus_spec
-- The recorded corpus, if any.
select spec, memories, build_seconds, built_at from public.pymem_bench_corpus;

-- name: corpus_record
-- Record the corpus this database now holds.
insert into public.pymem_bench_corpus (spec, memories, build_seconds) values (%(spec)s, %(memories)s, %(build_seconds)s)
on conflict (singleton) do update set spec = excluded.spec, memories = excluded.memories,
    build_seconds = excluded.build_seconds, built_at = now();

-- name: tenant_storage
-- A tenant's partition suffix and role.
select storage_suffix, role_name from _pymem.tenants where tenant_id = %(tenant_id)s;

-- name: drop_index
-- Drop one of a tenant's search indexes before a bulk load (the reindex plan rebuilds it).
drop index if exists _pymem.{index};

-- name: copy_memories
-- Bulk load into one tenant's partition (owner only: COPY FROM refuses tables under RLS).
copy _pymem.{partition} (tenant_id, user_id, kind, content, embedding, importance, session_id,
                         observed_at, created_at, valid_from) from stdin (format binary);

-- name: vacuum_partition
-- Visibility map and planner statistics after a bulk load.
vacuum (analyze) _pymem.{partition};

-- name: set_role
-- Act as a tenant role for the timed calls.
set role {role};

-- name: reset_role
-- Back to the connecting role.
reset role;

-- name: retrieve
-- One retrieval call, as the tenant role: the call the latency figures time.
select id from pymem.retrieve(%(user_id)s, %(query)s, %(embedding)s, %(top_k)s, null, null, null, null, %(options)s);

-- name: retrieve_vector_scores
-- One retrieval call with each result's vector score (recall counts ties by distance).
select id, vector_score from pymem.retrieve(%(user_id)s, %(query)s, %(embedding)s, %(top_k)s, null, null, null, null,
                                            %(options)s);

-- name: exact_neighbours
-- Ground truth: a user's exact top-k by cosine distance (materialized: no index involved),
-- among rows of positive similarity (retrieve clamps similarity at 0, so it cannot order the rest).
with u as materialized (
    select m.id, m.embedding <=> %(embedding)s as distance from _pymem.memories m
    where m.tenant_id = %(tenant_id)s and m.user_id = %(user_id)s and m.status = 'active' and m.embedding is not null)
select u.id, u.distance from u where u.distance < 1 order by u.distance, u.id limit %(top_k)s;

-- name: questions_table
-- The conversation classes' questions with their embeddings (pymem bench retrieval).
create table if not exists public.pymem_bench_questions (
    class     text not null,
    tenant_id text not null,
    user_id   text not null,
    n         integer not null,
    question  text not null,
    embedding vector(384) not null,
    primary key (class, user_id, n)
);

-- name: question_record
-- One question of a conversation class.
insert into public.pymem_bench_questions (class, tenant_id, user_id, n, question, embedding)
values (%(class)s, %(tenant_id)s, %(user_id)s, %(n)s, %(question)s, %(embedding)s)
on conflict (class, user_id, n) do nothing;

-- name: questions
-- A conversation class's questions, users interleaved (question 0 of each user, then 1, ...).
select tenant_id, user_id, question, embedding from public.pymem_bench_questions
where class = %(class)s order by n, user_id;

-- name: user_memories
-- How many memories a user holds (a conversation build resumes with the users it lacks).
select count(*) from _pymem.memories where tenant_id = %(tenant_id)s and user_id = %(user_id)s;

-- name: profile_retrieve
-- Ask pymem.retrieve for its stage timings (a NOTICE per call) in this session.
select set_config('pymem.profile_retrieve', 'on', false);

-- name: retrieve_statements
-- How many prepared main statements pymem.retrieve keeps in this session.
select set_config('pymem.retrieve_statements', %(keep)s, false);

-- name: audit_counts
-- `bench audit`: how many memories the worker and remember wrote for a tenant (raw turns
-- aside), how many are closed, and how many are cessations.
select count(*) filter (where m.kind <> 'episode') as memories,
       count(*) filter (where m.kind <> 'episode' and m.status = 'superseded') as closed,
       count(*) filter (where m.kind <> 'episode' and m.statement->>'polarity' = 'cessation') as cessations
from _pymem.memories m where m.tenant_id = %(tenant_id)s;

-- name: audit_closed
-- `bench audit`: every memory of a tenant that another one closed (superseded, ended by a
-- cessation, or stored already outdated), with the one that closed it, the turn each came
-- from, and the reason recorded with the closing version. Owner only (reads every user).
select o.user_id, o.kind, o.content as old_content, o.attribute as old_attribute, o.value as old_value,
       n.content as new_content, n.attribute as new_attribute, n.value as new_value,
       coalesce(n.statement->>'polarity', 'positive') as new_polarity, n.statement->>'old_value' as ceased_value,
       n.statement->>'object' as ceased_object, o.valid_to, n.valid_from as new_valid_from,
       (o.created_at > n.created_at) as arrived_late,
       (select v.reason from _pymem.memory_versions v
         where v.tenant_id = o.tenant_id and v.memory_id = o.id order by v.version desc limit 1) as reason,
       (select string_agg(x.message->>'content', ' / ' order by x.i) from _pymem.episodes e
          cross join lateral jsonb_array_elements(e.messages) with ordinality x(message, i)
         where e.tenant_id = o.tenant_id and e.id = (o.source->>'episode_id')::uuid
           and ((x.i - 1)::text in (select jsonb_array_elements_text(o.source->'turns'))
                or x.message->>'id' in (select jsonb_array_elements_text(o.source->'turns')))) as old_source,
       (select string_agg(x.message->>'content', ' / ' order by x.i) from _pymem.episodes e
          cross join lateral jsonb_array_elements(e.messages) with ordinality x(message, i)
         where e.tenant_id = n.tenant_id and e.id = (n.source->>'episode_id')::uuid
           and ((x.i - 1)::text in (select jsonb_array_elements_text(n.source->'turns'))
                or x.message->>'id' in (select jsonb_array_elements_text(n.source->'turns')))) as new_source
from _pymem.memories o
join _pymem.memories n on n.tenant_id = o.tenant_id and n.id = o.superseded_by
where o.tenant_id = %(tenant_id)s and o.kind <> 'episode' and o.status = 'superseded'
order by o.user_id, o.valid_to, o.id;

-- name: audit_cessations
-- `bench audit`: every cessation a tenant stored, what it names as ceased, the turn it came
-- from, and how many memories it closed.
select n.user_id, n.content, n.statement->>'old_value' as ceased_value, n.statement->>'object' as ceased_object,
       n.statement->>'family' as family,
       (select count(*) from _pymem.memories o
         where o.tenant_id = n.tenant_id and o.superseded_by = n.id and o.kind <> 'episode') as closed,
       (select string_agg(x.message->>'content', ' / ' order by x.i) from _pymem.episodes e
          cross join lateral jsonb_array_elements(e.messages) with ordinality x(message, i)
         where e.tenant_id = n.tenant_id and e.id = (n.source->>'episode_id')::uuid
           and ((x.i - 1)::text in (select jsonb_array_elements_text(n.source->'turns'))
                or x.message->>'id' in (select jsonb_array_elements_text(n.source->'turns')))) as source
from _pymem.memories n
where n.tenant_id = %(tenant_id)s and n.kind <> 'episode' and n.statement->>'polarity' = 'cessation'
order by n.user_id, n.valid_from, n.id;
