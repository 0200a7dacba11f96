// pymem's production load profile for k6 (`pymem bench load` runs it; so can you:
//   k6 run -e PYMEM_FIXTURE=fixture.json pymem/bench/k6/load.js).
//
// 100 tenants x 100 users (from the fixture), 10% ingest / 90% retrieve, 100 ms think
// time, ramping to 200 then 500 virtual users. Every retrieval is checked: 200, results
// for a seeded user, and no result of another tenant or user (counted as leaks).
//
// Environment: PYMEM_FIXTURE (required; JSON: base_url, tenants [{tenant_id, api_key}],
// users_per_tenant, memories_per_user, sentences [{text, query}]), STAGES
// ("30s:200,60s:200,..."), THINK_TIME seconds, INGEST_RATIO, SUMMARY_PATH (k6's summary
// as JSON), PYMEM_URL (overrides the fixture's base_url). Targets must be loopback here.
//
// MODE=rate (`pymem bench load --capacity`) is the open model instead: RATE iterations per
// second for DURATION whatever the latency (k6's constant-arrival-rate), no think time.
// QUERIES: "fixture" (a query about one of the user's memories, the default), "unique"
// (the same, made unique per request so no cache helps) or "fixed" (the reference load test's five fixed questions).
import http from 'k6/http';
import { check, sleep } from 'k6';
import { Counter } from 'k6/metrics';

const fixture = JSON.parse(open(__ENV.PYMEM_FIXTURE));
const BASE = __ENV.PYMEM_URL || fixture.base_url;
const THINK = parseFloat(__ENV.THINK_TIME || '0.1');
const INGEST_RATIO = parseFloat(__ENV.INGEST_RATIO || '0.1');
const STAGES = (__ENV.STAGES || '30s:200,60s:200,30s:500,60s:500,10s:0').split(',').map((stage) => {
  const [duration, target] = stage.split(':');
  return { duration, target: parseInt(target, 10) };
});

const leaks = new Counter('cross_tenant_results');      // results of another tenant or user
const emptyForSeeded = new Counter('empty_results_seeded'); // a seeded user got nothing back

const MODE = __ENV.MODE || 'vus';
const QUERIES = __ENV.QUERIES || 'fixture';
const RATE = parseInt(__ENV.RATE || '100', 10);
const scenario = MODE === 'rate'
  ? { executor: 'constant-arrival-rate', rate: RATE, timeUnit: '1s', duration: __ENV.DURATION || '20s',
      preAllocatedVUs: Math.min(RATE, 50) + 10, maxVUs: Math.max(100, RATE), gracefulStop: '10s' }
  : { executor: 'ramping-vus', startVUs: 0, stages: STAGES, gracefulRampDown: '10s', gracefulStop: '10s' };

export const options = {
  scenarios: { production: scenario },
  thresholds: {
    http_req_duration: ['p(95)<200'],
    'http_req_duration{op:retrieve}': ['p(95)<150'],
    'http_req_duration{op:ingest}': ['p(95)<200'],
    http_req_failed: ['rate<0.01'],
    cross_tenant_results: ['count==0'],
    checks: ['rate>0.99'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
  noConnectionReuse: false,
};

function pick(n) {
  return Math.floor(Math.random() * n);
}

export default function () {
  const tenant = fixture.tenants[pick(fixture.tenants.length)];
  const userIndex = pick(fixture.users_per_tenant);
  const user = `user-${userIndex}`;
  const params = {
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${tenant.api_key}` },
  };
  if (Math.random() < INGEST_RATIO) {
    const sentence = fixture.sentences[pick(fixture.sentences.length)];
    const body = JSON.stringify({
      tenant_id: tenant.tenant_id, user_id: user, session_id: `load-${__VU}`,
      messages: [{ role: 'user', content: sentence.text }, { role: 'assistant', content: 'Noted.' }],
    });
    const res = http.post(`${BASE}/api/memory/ingest`, body, { ...params, tags: { op: 'ingest' } });
    check(res, { 'ingest 201': (r) => r.status === 201 });
  } else {
    // A query about one of the memories this user was seeded with (the seeding rule:
    // user i holds sentences (i + j) mod N for j < memories_per_user).
    const j = pick(fixture.memories_per_user);
    const sentence = fixture.sentences[(userIndex + j) % fixture.sentences.length];
    let text = sentence.query;
    if (QUERIES === 'unique') text = `${sentence.query} (request ${__VU}-${__ITER})`;
    if (QUERIES === 'fixed') text = fixture.fixed_queries[pick(fixture.fixed_queries.length)];
    const body = JSON.stringify({ tenant_id: tenant.tenant_id, user_id: user, query: text, top_k: 10 });
    const res = http.post(`${BASE}/api/memory/retrieve`, body, { ...params, tags: { op: 'retrieve' } });
    let results = null;
    if (res.status === 200) {
      try {
        results = res.json('results');
      } catch (e) {
        results = null;
      }
    }
    const foreign = results ? results.filter((m) => m.tenant_id !== tenant.tenant_id || m.user_id !== user).length : 0;
    if (foreign > 0) leaks.add(foreign);
    if (results && results.length === 0) emptyForSeeded.add(1);
    check(res, {
      'retrieve 200': (r) => r.status === 200,
      'results for a seeded user': () => results !== null && results.length > 0,
      'no result of another tenant': () => foreign === 0,
    });
  }
  if (MODE !== 'rate') sleep(THINK);
}

export function handleSummary(data) {
  const out = {};
  if (__ENV.SUMMARY_PATH) out[__ENV.SUMMARY_PATH] = JSON.stringify(data);
  const d = data.metrics.http_req_duration.values;
  out.stdout = `k6: ${data.metrics.http_reqs.values.count} requests, p95 ${d['p(95)'].toFixed(1)} ms, ` +
    `failed ${(100 * data.metrics.http_req_failed.values.rate).toFixed(2)}%\n`;
  return out;
}
