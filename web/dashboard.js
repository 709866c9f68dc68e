// The Cairn dashboard: follows the node's live feed (server-sent events at /events; polling when
// the stream is unavailable), draws the wallet agent the node serves (/agent), and checks log
// entries against the transparency log named in /info (or ?log=<url>; ?logKey=<verifier key>
// pins the log key).
import { checkAnchored, checkEntry, toHex } from './tlog.js';

const POLL_MS = 1000;
/** With the live feed, a refresh at least this often (ages, provider timeouts). */
const FEED_REFRESH_MS = 5000;
const AGENT_MS = 2000;
const ANCHOR_MS = 5000;
const JOB_PAGE = 200;
const CHART_POINTS = 600;
const params = new URLSearchParams(location.search);

const $ = (id) => document.getElementById(id);
const state = {
  info: null,
  logUrl: params.get('log'),
  logKey: params.get('logKey'),
  chart: null,
  series: [[], [], []],
  feed: 'polling',
  agentCharts: null,
  /** The log's `/anchor` answer; `{ none: reason }` when the log anchors nothing. */
  anchor: null,
};

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

/** A disputed job: its result was challenged (a failed sampled step audit, an overcharge, a
 *  `challenge` transaction) or it is in a dispute state. */
export function isDisputed(j) {
  return (
    j.state === 'disputed' ||
    j.audit?.outcome === 'failed' ||
    j.replication?.outcome === 'disagreed' ||
    ['auditFailed', 'overcharged'].includes(j.stop?.kind) ||
    (j.txs ?? []).some(([purpose]) => purpose === 'challenge')
  );
}

/** How the node verified a job's result, in a few words (the long form is `cairn job verify`):
 *  the sampled step audit, the replication quorum, "not checked" with the streak's probability,
 *  a replica of another job, and where a train job resumed after a provider failed. */
export function howVerified(j) {
  const parts = [];
  const a = j.audit;
  const v = j.verification;
  const r = j.replication;
  if (j.replicaOf != null) parts.push(`replica of job ${j.replicaOf}`);
  if (a) {
    const n = a.segments.length;
    parts.push(a.outcome === 'passed' ? `audit passed (${n} of ${a.checkpointsTotal - 1} segments)` : `audit FAILED: disputed`);
  } else if (r) {
    const agree = r.replicas.filter((x) => x.agrees === true).length;
    const decided = r.replicas.filter((x) => x.agrees != null).length;
    parts.push(
      r.outcome === 'agreed'
        ? `replicated: ${agree} of ${decided} agree`
        : r.outcome === 'disagreed'
          ? 'replicas disagree: disputed'
          : `replication ${r.outcome}`,
    );
  } else if (v) {
    parts.push(
      v.method === 'not-checked'
        ? `not checked (p = ${v.probability.toFixed(2)})`
        : v.method === 'sampled-audit'
          ? 'audit pending'
          : 'replication pending',
    );
  }
  if (j.resumed) parts.push(`resumed at step ${j.resumed.step}`);
  return parts.join('; ') || '–';
}

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
  $('jobs-disputed').textContent = jobs.filter(isDisputed).length;
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
        el('td', { class: 'verified', title: j.verification?.reason ?? j.replication?.detail ?? '' }, howVerified(j)),
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

async function refresh() {
  try {
    const [providers, jobs] = await Promise.all([getJson('../providers'), getJson(`../jobs?limit=${JOB_PAGE}`)]);
    renderProviders(providers);
    const { running, finished } = renderJobs(jobs);
    chartPoint(running, finished);
    $('status').textContent = `live (${state.feed}) · updated ${new Date().toLocaleTimeString()}`;
    $('status').dataset.feed = state.feed;
    $('status').classList.remove('stale');
  } catch (e) {
    $('status').textContent = `node unreachable: ${e.message}`;
    $('status').classList.add('stale');
  }
}

async function poll() {
  await refresh();
  setTimeout(poll, state.feed === 'events' ? FEED_REFRESH_MS : POLL_MS);
}

/** Follows /events: each job or provider event refreshes the page (coalesced); polling takes
 *  over when the browser has no EventSource or the stream closes for good. */
function follow() {
  if (!window.EventSource) {
    poll();
    return;
  }
  let queued = false;
  const soon = () => {
    if (queued) return;
    queued = true;
    setTimeout(() => {
      queued = false;
      refresh();
    }, 150);
  };
  const es = new EventSource('../events');
  for (const kind of ['job', 'jobEvent', 'provider']) es.addEventListener(kind, soon);
  es.onmessage = soon;
  es.onopen = () => {
    state.feed = 'events';
    soon();
  };
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) {
      state.feed = 'polling';
    }
  };
  poll();
}

const money = (x) => (x == null ? '–' : x.toLocaleString(undefined, { maximumFractionDigits: 2 }));
const pct = (x) => (x == null ? '–' : `${(x * 100).toFixed(1)}%`);

function agentCharts(status) {
  const width = Math.max(300, $('agent-price-chart').clientWidth);
  const assets = status.holdings.map((h) => h.symbol);
  const colors = ['#c98a00', '#2a5bd7', '#7a3db8', '#137a3a'];
  const priceSeries = [{}];
  const scales = {};
  const axes = [{}];
  assets.forEach((a, i) => {
    const scale = `p${i}`;
    scales[scale] = {};
    const color = colors[i % colors.length];
    priceSeries.push({ label: `${a} price`, stroke: color, width: 2, scale });
    priceSeries.push({ label: `${a} buys`, stroke: color, fill: color, scale, paths: () => null, points: { show: true, size: 9, fill: color } });
    if (i < 2) axes.push({ scale, label: `${a} (${status.stable})`, side: i === 0 ? 3 : 1, grid: { show: i === 0 } });
  });
  const price = new window.uPlot({ width, height: 220, series: priceSeries, scales, axes }, [[], ...priceSeries.slice(1).map(() => [])], $('agent-price-chart'));
  const value = new window.uPlot(
    {
      width,
      height: 200,
      series: [
        {},
        { label: `value (${status.stable})`, stroke: '#137a3a', width: 2, scale: 'v' },
        { label: 'drawdown', stroke: '#b3261e', width: 1, scale: 'dd', value: (u, v) => pct(v) },
      ],
      scales: { v: {}, dd: { range: (u, min, max) => [0, Math.max(0.01, max)] } },
      axes: [{}, { scale: 'v', label: status.stable }, { scale: 'dd', side: 1, grid: { show: false }, values: (u, vs) => vs.map(pct) }],
    },
    [[], [], []],
    $('agent-value-chart'),
  );
  return { price, value, assets: assets.length };
}

function renderAgent(status, decisions) {
  $('agent').hidden = false;
  $('agent-plan').textContent = `${status.plan ?? 'plan'} · ${status.mode ?? '?'}${status.vault ? ` through vault ${status.vault}` : ''} · ${status.schedule ?? ''} · ${status.slots} slots${status.paused ? ` · PAUSED: ${status.paused}` : ''}`;
  const last = status.history[status.history.length - 1];
  $('agent-value').textContent = money(status.value);
  $('agent-cash').textContent = money(status.cash);
  $('agent-drawdown').textContent = pct(last?.drawdown);
  const buys = status.holdings.reduce((a, h) => a + h.buys, 0);
  $('agent-buys').textContent = buys;
  $('agent-buys').dataset.buys = String(buys);
  $('agent-next').textContent = status.nextBuyMs ? new Date(status.nextBuyMs).toISOString().replace('.000Z', 'Z') : '–';
  $('agent-holdings').tBodies[0].replaceChildren(
    ...status.holdings.map((h) =>
      el('tr', { 'data-asset': h.symbol }, el('td', {}, `${h.symbol} (${h.token})`), el('td', {}, h.units), el('td', {}, h.spent), el('td', {}, money(h.avgCost)), el('td', {}, money(h.price)), el('td', {}, money(h.value)), el('td', {}, h.buys)),
    ),
  );
  $('agent-decisions').tBodies[0].replaceChildren(
    ...decisions.decisions.map((d) =>
      el(
        'tr',
        { 'data-slot': d.slot, 'data-asset': d.asset, 'data-state': d.state },
        el('td', {}, d.slot),
        el('td', {}, d.timeMs ? new Date(d.timeMs).toISOString().slice(0, 10) : '–'),
        el('td', {}, d.asset),
        el('td', {}, el('span', { class: `state state-${d.state}`, title: d.error ?? '' }, d.state)),
        el('td', {}, d.amountIn),
        el('td', {}, d.fill ?? '–'),
        el('td', {}, money(d.fillPrice)),
        el('td', { class: 'why' }, d.reason),
        el('td', { class: 'addr', title: d.txHash ?? '' }, short(d.txHash)),
        el('td', {}, d.logIndex != null ? el('button', { class: 'link', type: 'button', onclick: () => verify(d.logIndex) }, `entry ${d.logIndex}`) : '–'),
      ),
    ),
  );
  if (!window.uPlot || !status.history.length) return;
  if (!state.agentCharts) state.agentCharts = agentCharts(status);
  const h = status.history;
  const t = h.map((p) => p.timeMs / 1000);
  // A buy marker sits on the price at each slot where that asset was filled.
  const filled = new Set(decisions.decisions.filter((d) => d.state === 'filled').map((d) => `${d.slot}/${d.asset}`));
  const price = [t];
  status.holdings.forEach((hd, i) => {
    price.push(h.map((p) => p.prices[i] ?? null));
    price.push(h.map((p) => (filled.has(`${p.slot}/${hd.symbol}`) ? p.prices[i] : null)));
  });
  state.agentCharts.price.setData(price);
  state.agentCharts.value.setData([t, h.map((p) => p.value), h.map((p) => p.drawdown)]);
}

async function agent() {
  try {
    const [status, decisions] = await Promise.all([getJson('../agent'), getJson('../agent/decisions?limit=500')]);
    renderAgent(status, decisions);
  } catch (e) {
    // 404: this node serves no agent (or it has not started yet); the panel stays hidden.
    if (!String(e.message).includes('HTTP 404')) $('agent-plan').textContent = `agent unavailable: ${e.message}`;
  }
  setTimeout(agent, AGENT_MS);
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
  if (state.logUrl) {
    try {
      const log = await getJson(`${state.logUrl.replace(/\/$/, '')}/log`);
      state.logKey = state.logKey ?? log.verifierKey;
      if (!log.anchor) state.anchor = { none: 'the log anchors nothing on chain' };
      anchorLoop();
    } catch (e) {
      $('log-checkpoint').textContent = `the log did not answer: ${e.message}`;
    }
  }
}

/** Reads the log's latest on-chain anchor (`GET /anchor`) and shows it. */
async function readAnchor() {
  try {
    state.anchor = await getJson(`${logBase()}/anchor`);
  } catch (e) {
    state.anchor = String(e.message).includes('HTTP 404') ? { none: 'the log anchors nothing on chain' } : { error: e.message };
  }
  renderAnchor();
}

async function anchorLoop() {
  if (state.anchor?.none) {
    renderAnchor();
    return;
  }
  await readAnchor();
  setTimeout(anchorLoop, ANCHOR_MS);
}

function renderAnchor() {
  const out = $('log-anchor');
  const a = state.anchor;
  out.dataset.size = a?.latest?.size ?? '';
  out.dataset.tx = a?.latest?.txHash ?? '';
  if (!a) out.textContent = '–';
  else if (a.none) out.textContent = `no: ${a.none}`;
  else if (a.error) out.textContent = `the log did not say: ${a.error}`;
  else if (!a.latest) out.textContent = `not yet: ProvenanceAnchor ${short(a.contract)} on chain ${a.chainId}, every ${a.intervalSecs} s${a.lastError ? ` (last attempt failed: ${a.lastError})` : ''}`;
  else {
    const l = a.latest;
    out.replaceChildren(
      `entries 0–${l.size - 1} (root ${l.root.slice(0, 16)}…) in block ${l.blockNumber}, tx `,
      el('span', { class: 'addr', id: 'log-anchor-tx', title: l.txHash }, l.txHash),
      ` · ProvenanceAnchor ${short(a.contract)} on chain ${a.chainId}, every ${a.intervalSecs} s`,
      a.lastError ? el('span', { class: 'bad' }, ` · last attempt failed: ${a.lastError}`) : '',
    );
  }
}

/** Whether the latest on-chain anchor covers entry `index`: the entry's inclusion proof in the
 *  anchored tree (recomputed from the tiles) must lead to the anchored root. */
async function anchorCoverage(index) {
  const out = $('proof-anchor');
  out.dataset.covered = '';
  out.dataset.tx = '';
  out.className = 'small';
  out.textContent = 'checking the on-chain anchor…';
  await readAnchor();
  const a = state.anchor;
  const say = (covered, ...text) => {
    out.dataset.covered = covered;
    out.className = `small ${covered === 'true' ? 'ok' : covered === 'false' ? 'bad' : 'muted'}`;
    out.replaceChildren(...text);
  };
  if (!a || a.none || a.error) return say('unknown', `on chain: ${a?.none ?? a?.error ?? 'unknown'}`);
  if (!a.latest) return say('no', `on chain: not covered yet — the log has no anchor yet (it anchors every ${a.intervalSecs} s)`);
  const l = a.latest;
  if (index >= l.size) {
    return say('no', `on chain: not covered yet — the latest anchor covers entries 0–${l.size - 1} (tx ${short(l.txHash)}); the log anchors every ${a.intervalSecs} s`);
  }
  try {
    const r = await checkAnchored(state.logUrl, index, l.size, l.root);
    if (!r.included) return say('false', `✗ on chain: the anchored root of ${l.size} entries (tx ${l.txHash}) does not lead to entry ${index} from the log's tiles`);
    out.dataset.tx = l.txHash;
    say(
      'true',
      `⚓ ✓ on chain: covered by the anchor of ${l.size} entries — entry ${index}'s inclusion proof (${r.proof.length} hashes) leads to the anchored root ${l.root.slice(0, 16)}…; tx `,
      el('span', { class: 'addr', title: l.txHash }, l.txHash),
      ` in block ${l.blockNumber}, ProvenanceAnchor ${short(a.contract)} on chain ${a.chainId}`,
    );
  } catch (e) {
    say('false', `✗ on chain: ${e.message}`);
  }
}

// Lineage: upstream from a statement, through the digests its predicate names.
const DIGEST = /^(sha256|blake3):[0-9a-f]{64}$/;
const LINEAGE_DEPTH = 8;

/** Every digest a predicate names: `alg:hex` strings and `{ sha256: hex }` objects. */
function referenced(v, out = new Set()) {
  if (typeof v === 'string') {
    if (DIGEST.test(v)) out.add(v);
  } else if (Array.isArray(v)) {
    v.forEach((x) => referenced(x, out));
  } else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if ((k === 'sha256' || k === 'blake3') && typeof x === 'string' && /^[0-9a-f]{64}$/.test(x)) out.add(`${k}:${x}`);
      else referenced(x, out);
    }
  }
  return out;
}

const logBase = () => state.logUrl.replace(/\/$/, '');

/** Reads of one lineage trace, each path fetched once. */
function memo() {
  const m = new Map();
  return (path) => {
    if (!m.has(path)) m.set(path, getJson(path));
    return m.get(path);
  };
}

async function statementAt(index, get) {
  const e = await get(`${logBase()}/entry/${index}`);
  const raw = atob(e.envelope.payload);
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(raw, (c) => c.charCodeAt(0))));
}

/** The statement at `index` and, for each digest its predicate names, the statements that have
 *  it as subject (walked the same way), to LINEAGE_DEPTH. Every branch is walked to its end (a
 *  training run reached from a decision's model and from the model's own statement shows its
 *  datasets under both); only a statement already on the path is not walked again. */
async function walk(index, depth, path, get) {
  const st = await statementAt(index, get);
  const node = { index, type: st.predicateType, subjects: st.subject ?? [], children: [] };
  if (path.has(index) || depth >= LINEAGE_DEPTH) return node;
  const below = new Set(path).add(index);
  const own = new Set((st.subject ?? []).flatMap((s) => [...referenced(s.digest ?? {})]));
  for (const d of referenced(st.predicate ?? {})) {
    if (own.has(d)) continue;
    const hits = (await get(`${logBase()}/lineage/${d}`)).entries.filter((h) => h.role === 'subject' && !below.has(h.index));
    if (!hits.length) node.children.push({ digest: d });
    for (const h of hits.slice(0, 4)) node.children.push({ digest: d, ...(await walk(h.index, depth + 1, below, get)) });
  }
  return node;
}

function lineageItem(n) {
  const what = n.index == null
    ? el('span', { class: 'muted' }, 'no statement in the log has it as subject')
    : el(
        'span',
        {},
        el('span', { class: 'ptype' }, (n.type ?? '?').replace(/^https?:\/\/[^/]+\//, '')),
        ' ',
        el('button', { class: 'link', type: 'button', onclick: () => verify(n.index) }, `entry ${n.index}`),
        ' ',
        n.subjects.map((s) => s.name).join(', '),
      );
  return el(
    'li',
    { 'data-index': n.index ?? '', 'data-type': n.type ?? '' },
    n.digest ? el('span', { class: 'digest' }, `${n.digest.slice(0, 19)}… → `) : '',
    what,
    n.children?.length ? el('ul', {}, ...n.children.map(lineageItem)) : '',
  );
}

async function lineage(target) {
  const out = $('lineage-result');
  out.dataset.done = '';
  out.replaceChildren(el('p', { class: 'muted' }, `tracing ${target}…`));
  try {
    if (!state.logUrl) throw new Error('no log to read from');
    const t = target.trim();
    let roots;
    let mentionedBy = [];
    if (/^\d+$/.test(t)) {
      roots = [Number(t)];
    } else if (DIGEST.test(t)) {
      const hits = (await getJson(`${logBase()}/lineage/${t}`)).entries;
      roots = hits.filter((h) => h.role === 'subject').map((h) => h.index);
      mentionedBy = hits.filter((h) => h.role !== 'subject');
      if (!roots.length && !mentionedBy.length) throw new Error(`no statement in the log names ${t}`);
    } else {
      throw new Error(`${JSON.stringify(t)} is neither an entry index nor a digest (sha256:<64 hex>)`);
    }
    const get = memo();
    const trees = [];
    for (const r of roots) trees.push(await walk(r, 0, new Set(), get));
    out.replaceChildren(
      trees.length ? el('ul', { class: 'lineage' }, ...trees.map(lineageItem)) : el('p', { class: 'muted' }, 'no statement has it as subject'),
      mentionedBy.length
        ? el('p', { class: 'small' }, 'used by: ', ...mentionedBy.map((h) => el('button', { class: 'link', type: 'button', 'data-index': h.index, onclick: () => lineage(String(h.index)) }, `entry ${h.index} `)))
        : '',
    );
    out.dataset.done = 'ok';
  } catch (e) {
    out.replaceChildren(el('p', { class: 'bad' }, `✗ ${e.message}`));
    out.dataset.done = 'error';
  }
}

$('lineage-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  lineage($('lineage-target').value);
});

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
  $('proof-anchor').replaceChildren();
  $('proof-anchor').dataset.covered = '';
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
    anchorCoverage(index);
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
follow();
agent();
