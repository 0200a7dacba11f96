-- 017_cues: the cue phrases retrieve reads to put the current value first (issue 33).
-- Idempotent, like 015 and 016: the table is made to hold exactly these rows.
--
-- A query asks how things are NOW when it holds a present cue and no past cue ("What's
-- the project budget?", "Which vendor are we using?"; not "What did Caroline research?").
-- Among the best results of such a query, a newer statement that announces a change
-- (a change cue: "Update: ...", "we moved it to ...", "make that $150,000", "just got my
-- highest score") ranks above the older ones; they stay in the answer, marked as earlier
-- (sql/idempotent/040_retrieve.sql, stage "current"). Chosen on StateBench train and
-- LoCoMo conversations 0-4; the figures are in docs/consistency.md.

with seed (cue, phrase) as (
    select 'past', unnest(array['did', 'didn''t', 'was', 'wasn''t', 'were', 'weren''t', 'had', 'ago', 'last',
                                'before', 'previously', 'first', 'originally', 'used to', 'ever'])
    union all
    select 'present', unnest(array['is', 'isn''t', 'are', 'aren''t', 'am', 'do', 'does', 'don''t', 'doesn''t',
                                   'should', 'will', 'can', 'current', 'currently', 'now', 'latest', 'still',
                                   'actual', 'today', 'status', 'what''s', 'where''s', 'when''s', 'who''s',
                                   'how''s', 'it''s', 'that''s', 'we''re', 'they''re', 'i''m', 'you''re',
                                   -- up to now: "How many projects have I completed so far?"
                                   'have', 'has', 'haven''t', 'hasn''t', 'so far', 'yet', 'these days',
                                   'nowadays', 'at the moment', 'right now', 'most recent'])
    union all
    select 'change', unnest(array['update', 'updated', 'now', 'actually', 'actual', 'instead', 'change',
                                  'changed', 'moved', 'rescheduled', 'switched', 'no longer', 'anymore',
                                  'cancelled', 'canceled', 'new', 'latest', 'final', 'correction', 'corrected',
                                  'revised', 'as of', 'turns out', 'just', 'override', 'overriding',
                                  'make that', 'recently', 'finally', 'nowadays', 'these days', 'from now on',
                                  'replaced', 'postponed', 'no more', 'switch', 'switching', 'moving',
                                  'changing', 'updating'])
), upserted as (
    insert into _pymem.cue_phrases (cue, phrase) select cue, phrase from seed
    on conflict do nothing
    returning cue, phrase
)
delete from _pymem.cue_phrases c where not exists (select from seed s where s.cue = c.cue and s.phrase = c.phrase);

-- Whether p_text holds a phrase of cue p_cue, word for word (case, punctuation and curly
-- apostrophes aside): "Update: moved" holds "update" and "moved", "updates" holds neither.
create or replace function _pymem.says(p_text text, p_cue text) returns boolean
    language sql stable security invoker parallel safe
    set search_path = pg_catalog, pg_temp
as $$
    select exists (
        select from _pymem.cue_phrases c
        where c.cue = p_cue
          and position(' ' || c.phrase || ' '
                       in ' ' || regexp_replace(lower(replace(coalesce(p_text, ''), '’', '''')), '[^a-z0-9'']+', ' ', 'g') || ' ') > 0)
$$;
comment on function _pymem.says(text, text) is
    'Whether the text holds a cue phrase of the kind (past, present, change), word for word. Internal.';

-- Whether a query asks how things are now: a present cue and no past cue.
create or replace function _pymem.asks_about_now(p_query text) returns boolean
    language sql stable security invoker parallel safe
    set search_path = pg_catalog, pg_temp
as $$ select _pymem.says(p_query, 'present') and not _pymem.says(p_query, 'past') $$;
comment on function _pymem.asks_about_now(text) is
    'Whether a query asks how things are now (a present cue, no past cue; _pymem.cue_phrases). Internal.';
