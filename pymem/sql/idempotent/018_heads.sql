-- 018_heads: the learned reading heads retrieve applies (written by `pymem bench heads --write-sql`;
-- do not edit by hand: retrain). Idempotent, like 017: the table is made to hold exactly these rows.
--
-- A head scores a memory's embedding: embedding . weights + bias, true above threshold
-- (pymem/bench/heads.py says how it is trained and measured; docs/consistency.md the figures).

with seed (name, model, dimensions, weights, bias, threshold, veto, trained_on) as (
    values ('change', 'sentence-transformers/all-MiniLM-L6-v2', 384,
            '[0.323600,1.070297,-0.347535,2.311859,-1.008094,-1.958727,-0.954611,1.765282,-1.849324,-3.232962,0.888602,0.029790,-0.384854,2.706783,-0.663766,1.355690,0.937993,-1.234589,-1.928874,-2.557005,-3.633071,-2.490603,2.112353,-0.081843,2.169227,-2.819854,1.213382,0.456439,-0.302884,0.684218,-2.001481,2.134985,-0.114790,3.154876,-2.017125,-4.581833,-1.372640,0.778341,-4.147672,-3.129411,3.484560,1.009410,-2.663831,-0.968936,0.492710,0.911858,1.947576,-2.342668,1.845161,2.316285,1.770586,-3.200272,2.277408,0.149076,0.648218,-0.715233,1.938102,4.140468,1.939691,4.214853,1.270618,0.316166,-2.185730,3.326256,0.702460,0.994578,2.146116,0.702310,-0.853764,5.275331,-2.476613,2.360830,0.755448,-0.521495,0.494138,2.865641,-0.955141,-2.676410,2.731529,4.500954,-0.984228,0.014508,0.559910,0.368676,1.074891,4.360418,-1.085917,-2.952108,1.759318,-6.552202,-3.256246,-1.534205,-2.946530,1.199023,3.466753,-2.630835,-1.136591,1.062254,1.597405,0.136613,0.074733,-0.281540,-1.939020,-4.135888,2.849167,-2.453563,2.820470,6.745237,-1.780042,0.279953,-1.763700,1.006258,3.007058,-1.999131,-0.443619,3.146619,-4.100611,1.418845,4.521254,1.401473,2.517013,-0.870585,-1.486166,3.924701,-3.952076,0.647207,4.152441,0.000000,-1.481172,-1.024210,-0.091229,2.602452,-0.917831,0.419862,2.462132,0.940136,0.390359,-3.494723,1.898994,0.905156,-1.806120,-2.274448,-2.867340,-1.891742,3.782519,-1.631415,0.648628,1.640387,-0.931864,2.542014,2.484831,-0.919144,-1.676213,4.323997,-0.714365,0.244374,-2.450020,-1.302345,-3.300807,1.400161,0.070951,2.478348,-3.492438,4.266476,1.816510,-3.518094,-2.573319,-0.787359,1.337174,2.507257,0.388061,0.438122,-0.814752,1.297871,-1.202959,3.749371,1.170130,0.248724,-1.028307,1.891397,-0.749390,-1.039095,1.265237,0.513861,-2.747997,0.409767,0.031901,1.225363,-0.603647,0.467512,0.777163,0.026553,1.743353,-0.375596,-1.488037,-0.754724,0.033809,4.235326,-0.057949,1.941079,-4.306696,3.150610,-2.723659,2.235529,-1.491798,-3.133232,2.138332,-0.236288,4.036855,3.365831,3.209736,-0.566746,3.141614,-2.547383,2.893800,-7.072855,2.092413,-0.766775,-4.301326,0.611766,-0.048263,-0.483645,-2.225191,-0.000000,0.079535,-4.028539,-2.440452,0.876705,-0.340788,-0.921309,1.201973,-0.677598,-2.880686,0.101816,2.053832,0.703368,3.067220,-0.086409,-2.321630,1.682688,0.385758,-3.135901,-3.716633,-2.469144,-0.863478,-2.680591,-3.664411,2.140187,-3.318696,-1.959976,2.213670,6.118265,-3.445899,1.737238,-2.095163,0.729278,-1.681887,-0.657858,2.742642,-1.207742,0.929811,-1.248152,3.577866,-3.958839,-2.585127,-1.172538,-0.284252,-0.743968,1.517762,3.665259,-1.148499,-2.389845,0.677279,-2.022520,0.252885,-2.356688,-5.544129,0.013186,-0.714254,0.048726,-5.426746,-0.096819,1.328710,-2.016587,-1.347622,-2.215984,-2.302328,0.364138,1.918570,2.013690,-0.359363,5.843841,-3.187639,0.218377,3.106153,2.438324,0.673035,-0.451643,-2.117207,-0.217148,0.742075,1.943564,-1.256200,-3.160847,-2.766439,2.865254,1.964119,-0.354706,3.740153,-0.617874,1.549421,2.706945,0.947697,3.647523,-0.785048,-0.375248,2.687567,3.827605,-2.517763,-0.000001,0.490857,0.272876,-4.895998,3.234217,-0.489548,2.887934,0.703729,-0.457083,-1.365852,1.687151,-3.756588,0.222277,6.465211,-1.532204,-0.230547,-4.584227,3.798777,-4.671469,1.749120,-3.565896,-3.412391,1.030905,-0.247645,-2.651611,0.981135,0.192438,0.836783,0.499171,0.167756,-3.220065,-0.273722,-2.412872,-3.371699,1.935985,-3.227317,1.537768,-0.458376,2.909863,2.812862,0.479707,-0.387813,-1.138468,-0.384608,3.062042,2.344273,2.445973,-0.935355,2.668230,-0.446400,-2.959658,-0.388843,-0.368055,-4.118006,2.281673,0.198089,-2.897965,-2.718600,-0.793477,-2.324472,-3.537489,-0.768033,-3.745120,0.034658,1.813335]'::vector,
            -4.633378::float8, 1.0::float8, null::float8, 'StateBench v1.0 train (4 tracks) + pymem bench updates tune')
), upserted as (
    insert into _pymem.reading_heads (name, model, dimensions, weights, bias, threshold, veto, trained_on)
    select * from seed
    on conflict (name, model) do update
        set dimensions = excluded.dimensions, weights = excluded.weights, bias = excluded.bias,
            threshold = excluded.threshold, veto = excluded.veto, trained_on = excluded.trained_on
    returning name, model
)
delete from _pymem.reading_heads h where not exists (select from seed s where s.name = h.name and s.model = h.model);

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
