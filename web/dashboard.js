// The Cairn dashboard: polls the node's JSON API (same origin) and checks log entries against
// the transparency log named in /info (or ?log=<url>; ?logKey=<verifier key> pins the log key).
import { checkEntry, toHex } from './tlog.js';

const POLL_MS = 1000;
const JOB_PAGE = 200;
const CHART_POINTS = 600;
const params = new URLSearchParams(location.search);

const $ = (id) => document.getElementById(id);
const state = { info: null, logUrl: params.get('log'), logKey: params.get('logKey'), chart: null, series: [[], [], []] };

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : String(c ?? ''));
  return e;
}

async function getJson(path) {
  const r = await fetch(path, { cache: 'no-store' });
  const text = await r.text();
  if (!r.ok) {
    let msg = text;
    try {
      msg = JSON.parse(text).error ?? text;
    } catch {}
    throw new Error(`${path}: HTTP ${r.status} ${msg}`);
  }
  return JSON.parse(text);
}

const short = (a) => (a && a.length > 14 ? `${a.slice(0, 8)}…${a.slice(-4)}` : a ?? '–');
const bytes = (n) => (n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : `${Math.round(n / 2 ** 20)} MiB`);
const ago = (ms) => {
  const s = Math.max(0, (Date.now() - ms) / 1000);
  return s < 60 ? `${s.toFixed(0)} s ago` : s < 3600 ? `${(s / 60).toFixed(0)} min ago` : `${(s / 3600).toFixed(1)} h ago`;
};
const ACTIVE = new Set(['queued', 'assigned', 'running']);
const FINISHED = new Set(['committed', 'settled']);
const FAILED = new Set(['failed', 'expired', 'cancelled']);

function renderProviders(providers) {
  const online = providers.filter((p) => p.online);
  const sum = (xs, f) => xs.reduce((a, p) => a + f(p), 0);
  $('providers-online').textContent = `${online.length} / ${providers.length}`;
  $('cores').textContent = `${sum(online, (p) => p.free.cpu_cores)} / ${sum(online, (p) => p.capacity.cpu_cores)}`;
  $('memory').textContent = `${bytes(sum(online, (p) => p.free.memory_bytes))} / ${bytes(sum(online, (p) => p.capacity.memory_bytes))}`;
  const body = $('providers').tBodies[0];
  body.replaceChildren(
    ...providers.map((p) =>
      el(
        'tr',
        { 'data-address': p.address },
        el('td', { class: 'addr', title: p.address }, short(p.address)),
        el('td', {}, p.online ? 'yes' : `no (${ago(Date.now() - p.lastSeenMsAgo)})`),
        el('td', {}, `${p.free.cpu_cores} / ${p.capacity.cpu_cores}`),
        el('td', {}, p.verifiedCores ?? '–'),
        el('td', {}, (p.kinds ?? []).join(', ')),
        el('td', {}, p.jobsCompleted),
        el('td', {}, p.jobsFailed),
        el('td', {}, p.earned),
      ),
    ),
  );
}

function renderJobs(jobs) {
  const count = (set) => jobs.filter((j) => set.has(j.state)).length;
  const running = count(ACTIVE);
  const finished = count(FINISHED);
  $('jobs-running').textContent = running;
  $('jobs-finished').textContent = finished;
  $('jobs-failed').textContent = count(FAILED);
  const body = $('jobs').tBodies[0];
  body.replaceChildren(
    ...jobs.map((j) => {
      const receipt = j.receipt
        ? el('button', { class: 'link', type: 'button', onclick: () => verify(j.receipt.index) }, `entry ${j.receipt.index}`)
        : '–';
      return el(
        'tr',
        { 'data-job': j.id, 'data-state': j.state },
        el('td', {}, j.id),
        el('td', {}, j.name),
        el('td', {}, el('span', { class: `state state-${j.state}`, title: j.reason ?? '' }, j.state)),
        el('td', { class: 'addr', title: j.provider ?? '' }, short(j.provider)),
        el('td', {}, j.payment),
        el('td', {}, ago(j.submittedMs)),
        el('td', {}, j.finishedMs && j.startedMs ? `${((j.finishedMs - j.startedMs) / 1000).toFixed(1)} s` : '–'),
        el('td', {}, receipt),
      );
    }),
  );
  return { running, finished };
}

function chartPoint(running, finished) {
  const [t, r, f] = state.series;
  t.push(Date.now() / 1000);
  r.push(running);
  f.push(finished);
  if (t.length > CHART_POINTS) state.series.forEach((s) => s.shift());
  if (!window.uPlot) return;
  if (!state.chart) {
    const width = Math.max(300, $('chart').clientWidth);
    state.chart = new window.uPlot(
      {
        width,
        height: 180,
        series: [{}, { label: 'running', stroke: '#c98a00', width: 2 }, { label: 'finished', stroke: '#137a3a', width: 2 }],
        axes: [{}, { label: 'jobs' }],
        scales: { y: { range: (u, min, max) => [0, Math.max(1, max + 1)] } },
      },
      state.series,
      $('chart'),
    );
  } else {
    state.chart.setData(state.series);
  }
}

async function poll() {
  try {
    const [providers, jobs] = await Promise.all([getJson('../providers'), getJson(`../jobs?limit=${JOB_PAGE}`)]);
    renderProviders(providers);
    const { running, finished } = renderJobs(jobs);
    chartPoint(running, finished);
    $('status').textContent = `live · updated ${new Date().toLocaleTimeString()}`;
    $('status').classList.remove('stale');
  } catch (e) {
    $('status').textContent = `node unreachable: ${e.message}`;
    $('status').classList.add('stale');
  }
  setTimeout(poll, POLL_MS);
}

async function loadInfo() {
  try {
    const info = await getJson('../info');
    state.info = info;
    $('node-url').textContent = `node ${location.origin} · chain ${info.chainId} · market ${short(info.market)}`;
    $('chain').textContent = `version ${info.version} · token ${info.token} · operator ${info.operator}`;
    state.logUrl = state.logUrl ?? info.log;
  } catch (e) {
    $('node-url').textContent = `node info unavailable: ${e.message}`;
  }
  $('log-url').textContent = state.logUrl ?? 'none: the node runs without a log (start it with --log <url>, or open this page with ?log=<url>)';
  if (state.logUrl && !state.logKey) {
    try {
      const log = await getJson(`${state.logUrl.replace(/\/$/, '')}/log`);
      state.logKey = log.verifierKey;
    } catch (e) {
      $('log-checkpoint').textContent = `the log did not answer: ${e.message}`;
    }
  }
}

/** An entry as text when it is printable UTF-8 (pretty JSON when it parses), else as hex. */
function entryText(bytes) {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    if (!/[\u0000-\u0008\u000e-\u001f]/.test(text)) {
      try {
        return JSON.stringify(JSON.parse(text), null, 2);
      } catch {
        return text;
      }
    }
  } catch {}
  const hex = toHex(bytes);
  return hex.match(/.{1,64}/g).join('\n');
}

function showResult(ok, text) {
  const r = $('proof-result');
  r.textContent = `${ok ? '✓' : '✗'} ${text}`;
  r.className = ok ? 'ok' : 'bad';
  r.dataset.verified = String(ok);
}

async function verify(index) {
  $('entry-index').value = index;
  const r = $('proof-result');
  r.textContent = `checking entry ${index}…`;
  r.className = '';
  r.dataset.verified = '';
  $('proof-details').replaceChildren();
  if (!state.logUrl) {
    showResult(false, 'no log to check against');
    return;
  }
  try {
    const res = await checkEntry(state.logUrl, index, { vkey: state.logKey });
    const cp = res.checkpoint;
    $('log-checkpoint').textContent = `${cp.origin} · ${cp.size} entries · root ${toHex(cp.root)}`;
    if (res.ok) {
      showResult(true, `entry ${index} is in the log: its inclusion proof leads to the root of the checkpoint of ${cp.size} entries${res.signedBy ? `, signed by ${res.signedBy}` : ''}`);
    } else if (!res.included) {
      showResult(false, `entry ${index} does NOT verify: its inclusion proof does not lead to the checkpoint's root (the entry or a tile was altered)`);
    } else {
      showResult(false, `the checkpoint's signature does not verify: ${res.signatureError}`);
    }
    const text = entryText(res.entry);
    $('proof-details').replaceChildren(
      el('dl', { class: 'kv' }, el('dt', {}, 'leaf hash'), el('dd', { id: 'leaf-hash' }, toHex(res.leaf)), el('dt', {}, 'tiles read'), el('dd', {}, res.fetched.join(', '))),
      el('h3', {}, `inclusion proof (${res.proof.length} ${res.proof.length === 1 ? 'hash' : 'hashes'}, leaf to root)`),
      el('ol', {}, ...res.proof.map((h) => el('li', {}, toHex(h)))),
      el('h3', {}, `entry (${res.entry.length} bytes)`, ' ', el('a', { href: `${state.logUrl.replace(/\/$/, '')}/entry/${index}`, target: '_blank', rel: 'noopener' }, 'the log\'s decoded view')),
      el('pre', { id: 'entry-text' }, text),
    );
  } catch (e) {
    showResult(false, e.message);
  }
}

$('verify-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const index = Number($('entry-index').value);
  verify(index);
});

loadInfo();
poll();
