-- 017_cues: the cue phrases retrieve reads to put the current value first.
-- Idempotent, like 015 and 016: the table is made to hold exactly these rows.
--
-- A query asks how things are NOW unless it holds a past cue ("What's the project
-- budget?", "How many units in the order?"; not "What did Caroline research?").
-- Among the best results of such a query, a newer statement that announces a change
-- (a change cue: "Update: ...", "we moved it to ...", "make that $150,000", "just got my
-- highest score") ranks above the older ones; they stay in the answer, marked as earlier
-- (sql/idempotent/040_retrieve.sql, stage "current"). A clause with a correction cue (a
-- stronger subset) is kept as a memory of its own by the offline extractor (055). Chosen on
-- StateBench train and LoCoMo conversations 0-4; the figures are in docs/consistency.md.

with seed (cue, phrase) as (
    select 'past', unnest(array['did', 'didn''t', 'was', 'wasn''t', 'were', 'weren''t', 'had', 'ago', 'last',
                                'before', 'previously', 'first', 'originally', 'used to', 'ever'])
    union all
    select 'change', unnest(array['update', 'updated', 'now', 'actually', 'actual', 'instead', 'change',
                                  'changed', 'moved', 'rescheduled', 'switched', 'no longer', 'anymore',
                                  'cancelled', 'canceled', 'new', 'latest', 'final', 'correction', 'corrected',
                                  'revised', 'as of', 'turns out', 'just', 'override', 'overriding',
                                  'make that', 'recently', 'finally', 'nowadays', 'these days', 'from now on',
                                  'replaced', 'postponed', 'no more', 'switch', 'switching', 'moving',
                                  'changing', 'updating'])
    union all
    -- the offline extractor keeps a clause with one of these as a memory of its own
    select 'correction', unnest(array['update', 'updated', 'correction', 'corrected', 'actual value',
                                      'make that', 'rescheduled', 'moved to', 'moved it to', 'changed to',
                                      'change to', 'switched to', 'switching to', 'instead of', 'no longer',
                                      'cancelled', 'canceled', 'postponed', 'pushed back', 'replaced', 'override',
                                      'overriding', 'revised', 'as of today', 'from now on', 'final', 'is now',
                                      'are now', 'am now', 'i''m now', 'we''re now'])
), upserted as (
    insert into _pymem.cue_phrases (cue, phrase) select cue, phrase from seed
    on conflict do nothing
    returning cue, phrase
)
delete from _pymem.cue_phrases c where not exists (select from seed s where s.cue = c.cue and s.phrase = c.phrase);

-- Whether p_text holds a phrase of cue p_cue, word for word (case, punctuation and curly
-- apostrophes aside): "Update: moved" holds "update" and "moved", "updates" holds neither.
-- The text is normalised once (offset 0 keeps it out of the join), not once per phrase: a
-- LoCoMo turn took 1.3 ms a call against the 40 change phrases, 0.06 ms now, and retrieve
-- asks it of every row of its currentness window.
create or replace function _pymem.says(p_text text, p_cue text) returns boolean
    language sql stable security invoker parallel safe
    set search_path = pg_catalog, pg_temp
as $$
    select exists (
        select
        from (select ' ' || regexp_replace(lower(replace(coalesce(p_text, ''), '’', '''')), '[^a-z0-9'']+', ' ', 'g')
                     || ' ' as words
              offset 0) t
        join _pymem.cue_phrases c on c.cue = p_cue and position(' ' || c.phrase || ' ' in t.words) > 0)
$$;
comment on function _pymem.says(text, text) is
    'Whether the text holds a cue phrase of the kind (past, change, correction), word for word. Internal.';

-- Whether a query asks how things are now: it holds a word and no past cue. (Requiring a present
-- cue as well missed verbless questions, "How many units in the order?", and changed
-- nothing on LoCoMo: StateBench train 0.772 -> 0.788 in simulation, LoCoMo recall@5 equal.)
create or replace function _pymem.asks_about_now(p_query text) returns boolean
    language sql stable security invoker parallel safe
    set search_path = pg_catalog, pg_temp
as $$ select coalesce(p_query, '') ~ '[[:alnum:]]' and not _pymem.says(p_query, 'past') $$;
comment on function _pymem.asks_about_now(text) is
    'Whether a query asks how things are now: it holds no past cue (_pymem.cue_phrases). Internal.';
