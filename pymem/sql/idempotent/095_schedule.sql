-- 095_schedule: where pg_cron exists, the decay sweep and consolidation run there. Without
-- it, `pymem worker` runs the same jobs on the same cron expressions (workers/schedule.py),
-- and an advisory lock keeps it to one runner. Re-applied on every migrate: it re-creates
-- the jobs with the current commands.

do $$
begin
    if exists (select from pg_extension where extname = 'pg_cron') then
        perform cron.unschedule(jobid) from cron.job where jobname in ('pymem-decay-sweep', 'pymem-compact');
        perform cron.schedule('pymem-decay-sweep', '0 */6 * * *', 'select pymem.decay_sweep(10000)');
        perform cron.schedule('pymem-compact', '30 3 * * *', 'select pymem.compact_all()');
    end if;
end
$$;
