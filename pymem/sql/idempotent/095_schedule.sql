-- 095_schedule: the maintenance jobs, and who runs them.
--
-- _pymem.schedule_plan() (070_lifecycle.sql) lists each job with the cron expression `pymem worker` uses, the one
-- pg_cron uses and the statement pg_cron runs. Where pg_cron is available, preloaded and this
-- is its database (cron.database_name), migrate creates the extension (if the installing role
-- may) and registers every job as 'pymem-<job>'; `pymem worker` runs whatever pg_cron does
-- not hold (_pymem.cron_jobs()), with an advisory lock per job (pymem/worker/schedule.py).
-- pg_cron takes one statement per run, so its decay job is a 10,000-memory batch every 10
-- minutes where the worker runs a whole pass every 6 hours (the sweep takes the memories
-- checked longest ago first, so both cover everything).
-- Re-applied on every migrate: the jobs are re-registered with the current statements.

do $$
declare
    v_plan record;
begin
    if not exists (select from pg_extension where extname = 'pg_cron')
       and exists (select from pg_available_extensions where name = 'pg_cron')
       and current_setting('shared_preload_libraries') ~ '(^|,)\s*pg_cron\s*(,|$)'
       and current_database() = coalesce(current_setting('cron.database_name', true), 'postgres') then
        begin
            create extension pg_cron;
        exception when others then
            raise notice 'pymem: pg_cron is available but % could not create it (%): `pymem worker` runs the schedules',
                current_user, sqlerrm;
        end;
    end if;
    -- pg_cron's own function, or a stand-in with its signature (tests/sql/test_cron.py says which).
    if to_regprocedure('cron.schedule(text,text,text)') is not null then
        begin
            perform cron.unschedule(j.jobid) from cron.job j
            where j.jobname in ('pymem-decay-sweep', 'pymem-compact', 'pymem-login-limits')  -- earlier names
               or j.jobname in (select 'pymem-' || p.job from _pymem.schedule_plan() p);
            for v_plan in select * from _pymem.schedule_plan() loop
                perform cron.schedule('pymem-' || v_plan.job, v_plan.cron_schedule, v_plan.command);
            end loop;
        exception when insufficient_privilege then
            raise notice 'pymem: % may not schedule pg_cron jobs (%): `pymem worker` runs the schedules',
                current_user, sqlerrm;
        end;
    end if;
end
$$;
