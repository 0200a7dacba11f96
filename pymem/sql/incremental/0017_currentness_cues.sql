-- 0017_currentness_cues: the words retrieve reads to put the current value first (issue 33).
-- Incremental file: run once by alembic revision 0017, then frozen.
--
--   _pymem.cue_phrases  a phrase (one word or several, lower case, words separated by one
--                       space) and what it signals:
--                         past     in a query: it asks about an earlier time ("did", "used to")
--                         change   in a statement: it announces a new value ("update", "moved",
--                                  "no longer", "just")
--                         correction  in a statement, a stronger subset: it corrects or replaces
--                                  a value ("correction", "make that", "rescheduled", "moved to")
--                       Global, read-only for tenants (retrieve runs as the tenant); seeded by
--                       sql/idempotent/017_cues.sql. Rules are these rows, not code branches.

create table _pymem.cue_phrases (
    cue    text not null check (cue in ('past', 'change', 'correction')),
    phrase text not null check (phrase ~ '^[a-z0-9'']+( [a-z0-9'']+)*$' and length(phrase) <= 60),
    primary key (cue, phrase)
);

do $$
begin
    execute format('grant select on _pymem.cue_phrases to %I',
                   format('pm_%s_tenant', (select install_id from _pymem.install)));
end
$$;
