-- 095_schedule: where pg_cron exists, the decay sweep, consolidation and the login-session
-- limits run there. Without it, `pymem worker` runs the same jobs on the same cron
-- expressions (pymem/worker/schedule.py), and an advisory lock keeps each to one runner. Re-applied on every migrate: it re-creates
-- the jobs with the current commands.

do $$
begin
    if exists (select from pg_extension where extname = 'pg_cron') then
        perform cron.unschedule(jobid) from cron.job
        where jobname in ('pymem-decay-sweep', 'pymem-compact', 'pymem-login-limits');
        perform cron.schedule('pymem-decay-sweep', '0 */6 * * *', 'select pymem.decay_sweep(10000)');
        perform cron.schedule('pymem-compact', '30 3 * * *', 'select pymem.compact_all()');
        perform cron.schedule('pymem-login-limits', '* * * * *', 'select pymem.enforce_login_limits()');
    end if;
end
$$;
