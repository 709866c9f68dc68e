// The dashboard in a real headless Chromium (Debian's `chromium`, driven by playwright-core):
// it loads, shows a job submitted now finishing without a reload, verifies a log entry's
// inclusion proof, and rejects the entry when its entry bundle or a hash tile is altered in
// flight. Run by bin/cairn/tests/dashboard.rs against a running `cairn up`:
//
//   node tests/browser/dashboard.mjs --dashboard http://127.0.0.1:7400/dashboard/ \
//     --cairn target/debug/cairn --data-dir .cairn --artifacts target/browser-artifacts
//
// Prints one `ok: …` line per check and `first-contentful-paint: <ms> ms`; exits non-zero with
// the reason (and a screenshot) on the first failure.
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function args() {
  const out = { chromium: '/usr/bin/chromium', artifacts: join(repo, 'target/browser-artifacts') };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (argv[i + 1] === undefined) throw new Error(`${argv[i]} needs a value`);
    out[k] = argv[i + 1];
  }
  for (const need of ['dashboard', 'cairn', 'dataDir']) {
    if (!out[need]) throw new Error(`missing --${need.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`);
  }
  return out;
}

const opts = args();
mkdirSync(opts.artifacts, { recursive: true });
const profile = mkdtempSync(join(tmpdir(), 'cairn-chromium-'));
const nodeUrl = new URL('/', opts.dashboard).href.replace(/\/$/, '');
const pageErrors = [];
let page;
let context;

const ok = (what) => console.log(`ok: ${what}`);
const shot = (name) => page.screenshot({ path: join(opts.artifacts, `${name}.png`), fullPage: true });

async function until(what, fn, timeoutMs) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} within ${timeoutMs / 1000} s${last ? ` (last error: ${last.message})` : ''}`);
}

/** Clicks "Verify" for `index` and returns the verdict shown: { verified, text }. */
async function verify(index) {
  await page.fill('#entry-index', String(index));
  await page.click('#verify-form button');
  await page.waitForFunction(() => document.getElementById('proof-result').dataset.verified !== '', null, { timeout: 60_000 });
  return page.$eval('#proof-result', (e) => ({ verified: e.dataset.verified === 'true', text: e.textContent }));
}

async function main() {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: opts.chromium,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1200, height: 900 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (e) => pageErrors.push(e.message));

  // 1. It loads and shows the network.
  await page.goto(opts.dashboard, { waitUntil: 'load' });
  const fcp = await page.evaluate(
    () =>
      new Promise((done) => {
        const seen = performance.getEntriesByName('first-contentful-paint')[0];
        if (seen) return done(seen.startTime);
        new PerformanceObserver((list) => {
          const e = list.getEntriesByName('first-contentful-paint')[0];
          if (e) done(e.startTime);
        }).observe({ type: 'paint', buffered: true });
      }),
  );
  console.log(`first-contentful-paint: ${fcp.toFixed(0)} ms`);
  await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('live'), null, { timeout: 30_000 });
  const providers = await page.$$eval('#providers tbody tr', (rows) => rows.length);
  if (providers < 2) throw new Error(`the dashboard lists ${providers} providers; cairn up starts at least 2`);
  const online = await page.textContent('#providers-online');
  if (!/^[1-9]\d* \/ \d+$/.test(online)) throw new Error(`"providers online" shows ${JSON.stringify(online)}`);
  const logUrl = await page.textContent('#log-url');
  if (!logUrl.startsWith('http://')) throw new Error(`the dashboard names no log: ${logUrl}`);
  await shot('1-overview');
  ok(`the dashboard loads: ${providers} providers (${online} online), log ${logUrl}`);

  // The overview counts disputes: jobs whose result was challenged (a failed audit, replicas
  // that disagree, an overcharge, a challenge transaction), as the node's /jobs reports them.
  const disputes = await until(
    'the disputes card did not match /jobs',
    async () => {
      const shown = (await page.textContent('#jobs-disputed')).trim();
      const expected = await page.evaluate(async () => {
        const jobs = await (await fetch('../jobs?limit=200')).json();
        return jobs.filter(
          (j) =>
            j.state === 'disputed' ||
            j.audit?.outcome === 'failed' ||
            j.replication?.outcome === 'disagreed' ||
            ['auditFailed', 'overcharged'].includes(j.stop?.kind) ||
            (j.txs ?? []).some(([p]) => p === 'challenge'),
        ).length;
      });
      return /^\d+$/.test(shown) && Number(shown) === expected ? shown : null;
    },
    15_000,
  );
  ok(`the overview shows ${disputes} disputes, as /jobs says`);

  // 2. A job submitted now appears and finishes, without reloading the page. Every state the
  //    page renders for a job is recorded in the page as it happens.
  const finishedBefore = Number(await page.textContent('#jobs-finished'));
  await page.evaluate(() => {
    window.__jobStates = {};
    const record = () => {
      for (const tr of document.querySelectorAll('#jobs tr[data-job]')) {
        const seen = (window.__jobStates[tr.dataset.job] ??= []);
        if (seen[seen.length - 1] !== tr.dataset.state) seen.push(tr.dataset.state);
      }
    };
    new MutationObserver(record).observe(document.querySelector('#jobs tbody'), { childList: true, subtree: true, attributes: true });
  });
  const submitted = JSON.parse(
    execFileSync(opts.cairn, ['--data-dir', opts.dataDir, '--json', 'job', 'submit', '--yes', '--node', nodeUrl, 'examples/jobs/wordcount/job.toml'], {
      cwd: repo,
      encoding: 'utf8',
    }),
  );
  const id = submitted.id;
  if (!Number.isInteger(id)) throw new Error(`job submit printed no id: ${JSON.stringify(submitted)}`);
  const row = `#jobs tr[data-job="${id}"]`;
  await page.waitForSelector(row, { timeout: 30_000 });
  const finished = await until(
    `job ${id} did not show as finished`,
    async () => {
      const s = await page.getAttribute(row, 'data-state');
      if (['failed', 'expired', 'cancelled'].includes(s)) throw new Error(`job ${id} ended ${s}`);
      return ['committed', 'settled'].includes(s) ? s : null;
    },
    300_000,
  );
  const states = await page.evaluate((id) => window.__jobStates[id], String(id));
  if (!states || !['committed', 'settled'].includes(states[states.length - 1])) {
    throw new Error(`the page never rendered job ${id} finished: ${JSON.stringify(states)}`);
  }
  await until(
    `"jobs finished" did not go past ${finishedBefore}`,
    async () => Number(await page.textContent('#jobs-finished')) > finishedBefore,
    10_000,
  );
  await shot('2-job-finished');
  ok(`job ${id} appeared and finished live (states rendered: ${states.join(' → ')}; jobs finished ${finishedBefore} → ${await page.textContent('#jobs-finished')})`);

  // 3. Its receipt's inclusion proof verifies in the browser (once a checkpoint covers it).
  const receiptButton = `${row} td:last-child button`;
  await page.waitForSelector(receiptButton, { timeout: 120_000 });
  const index = Number((await page.textContent(receiptButton)).replace(/\D/g, ''));
  const good = await until(
    `entry ${index} did not verify`,
    async () => {
      await page.click(receiptButton);
      await page.waitForFunction(() => document.getElementById('proof-result').dataset.verified !== '', null, { timeout: 60_000 });
      const v = await page.$eval('#proof-result', (e) => ({ verified: e.dataset.verified === 'true', text: e.textContent }));
      if (!v.verified && !v.text.includes('not in the checkpoint yet')) throw new Error(v.text);
      return v.verified ? v : null;
    },
    120_000,
  );
  const size = Number((await page.textContent('#log-checkpoint')).match(/· (\d+) entries/)[1]);
  const proofLen = await page.$$eval('#proof-details ol li', (l) => l.length);
  await shot('3-proof-verified');
  ok(`entry ${index} (job ${id}'s receipt) verifies against the checkpoint of ${size} entries with ${proofLen} proof hashes: ${good.text}`);

  // 3b. The on-chain anchor covers it once the log anchors a checkpoint past it (cairn up
  //     anchors every few seconds in this test): its inclusion proof in the anchored tree
  //     leads to the anchored root, and the anchor transaction is named.
  const anchored = await until(
    `no on-chain anchor covered entry ${index}`,
    async () => {
      await verify(index);
      await page.waitForFunction(() => !['', undefined].includes(document.getElementById('proof-anchor').dataset.covered), null, { timeout: 60_000 });
      const a = await page.$eval('#proof-anchor', (e) => ({ covered: e.dataset.covered, tx: e.dataset.tx, text: e.textContent }));
      if (a.covered === 'false' || a.covered === 'unknown') throw new Error(a.text);
      return a.covered === 'true' ? a : null;
    },
    90_000,
  );
  if (!/^0x[0-9a-f]{64}$/.test(anchored.tx)) throw new Error(`the anchor names no transaction: ${anchored.text}`);
  const chainAnchor = await page.evaluate(async (log) => (await fetch(`${log.replace(/\/$/, '')}/anchor`)).json(), logUrl);
  if (!chainAnchor.latest || chainAnchor.latest.size <= index) throw new Error(`the log's /anchor does not cover entry ${index}: ${JSON.stringify(chainAnchor)}`);
  await shot('3b-anchored');
  ok(`the on-chain anchor covers entry ${index}: ${anchored.text}`);

  // 4. An altered entry (one byte of its entry bundle flipped in flight) is rejected.
  await page.route('**/tile/entries/**', async (route) => {
    const response = await route.fetch();
    const body = Buffer.from(await response.body());
    let off = 0;
    for (let i = 0; i < index % 256; i++) off += 2 + body.readUInt16BE(off);
    const len = body.readUInt16BE(off);
    body[off + 2 + Math.floor(len / 2)] ^= 0x01;
    await route.fulfill({ response, body });
  });
  const badEntry = await verify(index);
  if (badEntry.verified || !badEntry.text.startsWith('✗')) throw new Error(`a tampered entry was accepted: ${badEntry.text}`);
  await shot('4-tampered-entry');
  await page.unroute('**/tile/entries/**');
  ok(`a tampered entry is rejected: ${badEntry.text}`);

  // 5. An altered hash tile (one byte of a proof hash flipped in flight) is rejected. The leaf's
  //    level-0 sibling is in the proof whenever it exists; otherwise the left neighbour subtree is.
  const sibling = (index ^ 1) < size ? index ^ 1 : index - 1;
  await page.route('**/tile/0/**', async (route) => {
    const response = await route.fetch();
    const body = Buffer.from(await response.body());
    body[(sibling % 256) * 32 + 7] ^= 0x80;
    await route.fulfill({ response, body });
  });
  const badTile = await verify(index);
  if (badTile.verified || !badTile.text.startsWith('✗')) throw new Error(`a tampered tile was accepted: ${badTile.text}`);
  await shot('5-tampered-tile');
  await page.unroute('**/tile/0/**');
  ok(`a tampered hash tile is rejected: ${badTile.text}`);

  // 6. Untouched again, it verifies again (nothing was cached from the tampered reads).
  const again = await verify(index);
  if (!again.verified) throw new Error(`entry ${index} no longer verifies after the tampering stopped: ${again.text}`);
  ok(`entry ${index} verifies again once the responses are untouched`);

  // 7. The page follows the node's live feed (server-sent events), not a polling loop.
  const feed = await page.getAttribute('#status', 'data-feed');
  if (feed !== 'events') throw new Error(`the page is not on the live feed: data-feed=${feed}`);
  ok('the page follows the live feed over server-sent events');

  // 8. The wallet agent's panel: its buys in the decision trail, marked on the price chart, the
  //    portfolio value and drawdown drawn, all from the node's /agent (the agent runs in cairn up).
  await page.waitForSelector('#agent:not([hidden])', { timeout: 60_000 });
  const buys = await until(
    'the agent panel showed no buy',
    async () => {
      const n = Number(await page.getAttribute('#agent-buys', 'data-buys'));
      const filled = await page.$$eval('#agent-decisions tr[data-state="filled"]', (r) => r.length);
      return n > 0 && filled > 0 ? { n, filled } : null;
    },
    120_000,
  );
  const api = await page.evaluate(async () => (await fetch('../agent')).json());
  const apiBuys = api.holdings.reduce((a, h) => a + h.buys, 0);
  if (apiBuys < buys.n) throw new Error(`the panel shows ${buys.n} buys, /agent ${apiBuys}`);
  // The charts are drawn (uPlot canvases) and carry the buy markers as non-empty series.
  const drawn = await page.evaluate(() => ({
    canvases: document.querySelectorAll('#agent-price-chart canvas, #agent-value-chart canvas').length,
  }));
  if (drawn.canvases < 2) throw new Error(`the agent charts are not drawn: ${JSON.stringify(drawn)}`);
  const marked = await page.$$eval('#agent-price-chart .u-legend .u-series', (s) => s.map((e) => e.textContent));
  if (!marked.some((t) => /buys/.test(t))) throw new Error(`no buy series on the price chart: ${marked.join(' | ')}`);
  const txs = await page.$$eval('#agent-decisions tr[data-state="filled"] td.addr', (c) => c.map((e) => e.title));
  if (!txs.every((h) => /^0x[0-9a-f]{64}$/.test(h))) throw new Error(`a filled buy without its transaction: ${txs.join(', ')}`);
  await page.locator('#agent').scrollIntoViewIfNeeded();
  await shot('6-agent');
  ok(`the agent panel shows its buys: ${buys.n} filled (${buys.filled} in the trail), value ${await page.textContent('#agent-value')}, drawdown ${await page.textContent('#agent-drawdown')}`);

  // 9. Lineage: the sample dataset's digest leads to its dataset statement; an agent decision's
  //    entry is walked upstream through the digests its predicate names.
  const bundle = JSON.parse(readFileSync(join(opts.dataDir, 'up/sample-dataset.bundle.json'), 'utf8'));
  const statement = JSON.parse(Buffer.from(bundle.envelope.payload, 'base64').toString('utf8'));
  const digest = `sha256:${statement.subject[0].digest.sha256}`;
  const trace = async (target) => {
    await page.fill('#lineage-target', target);
    await page.click('#lineage-form button');
    await page.waitForFunction(() => document.getElementById('lineage-result').dataset.done !== '', null, { timeout: 60_000 });
    const done = await page.getAttribute('#lineage-result', 'data-done');
    if (done !== 'ok') throw new Error(`lineage of ${target}: ${await page.textContent('#lineage-result')}`);
  };
  await trace(digest);
  const roots = await page.$$eval('#lineage-result > ul > li', (l) => l.map((e) => Number(e.dataset.index)));
  if (!roots.includes(bundle.entry.index)) throw new Error(`lineage of ${digest} shows entries ${roots}, not the dataset statement ${bundle.entry.index}`);
  ok(`lineage of the sample dataset ${digest.slice(0, 19)}… leads to its statement, entry ${bundle.entry.index}`);
  // The agent runs with the sample train job's model (cairn up starts it once the job
  // commits); once the job settles, its training-run and model statements are in the log, and
  // a decision's lineage reaches decision → model → training run → the market dataset.
  const trainFile = join(opts.dataDir, 'up/train.json');
  const train = await until(
    'the sample train job did not settle (up/train.json)',
    async () => {
      const t = JSON.parse(readFileSync(trainFile, 'utf8'));
      if (t.state === 'failed') throw new Error(`the sample train job failed: ${JSON.stringify(t)}`);
      return t.state === 'settled' ? t : null;
    },
    240_000,
  );
  if (!train.agentVolModel || !/^sha256:[0-9a-f]{64}$/.test(train.model)) throw new Error(`the agent runs without the model: ${JSON.stringify(train)}`);
  // The jobs table says how each result was verified: the train job's row shows the node's
  // sampled step audit (a new provider's result is always checked), as /jobs reports it.
  const trainRow = `#jobs tr[data-job="${train.job}"] td.verified`;
  const audited = await until(
    `job ${train.job}'s row does not show its audit`,
    async () => {
      const shown = (await page.textContent(trainRow).catch(() => '')) ?? '';
      const audit = await page.evaluate(async (id) => (await (await fetch(`../jobs/${id}`)).json()).audit, train.job);
      if (audit && audit.outcome !== 'passed') throw new Error(`the sample train job's audit ${audit.outcome}: ${JSON.stringify(audit)}`);
      const want = audit && `audit passed (${audit.segments.length} of ${audit.checkpointsTotal - 1} segments)`;
      return want && shown.includes(want) ? shown : null;
    },
    15_000,
  );
  ok(`the jobs table shows how the train job was verified: ${audited}`);
  const market = JSON.parse(readFileSync(join(opts.dataDir, 'up/market-dataset.bundle.json'), 'utf8'));
  const decisionButton = '#agent-decisions td:last-child button';
  await page.waitForSelector(decisionButton, { timeout: 60_000 });
  const decisionIndex = Number((await page.textContent(decisionButton)).replace(/\D/g, ''));
  await trace(String(decisionIndex));
  const root = await page.$eval('#lineage-result > ul > li', (e) => ({ index: Number(e.dataset.index), type: e.dataset.type, upstream: e.querySelectorAll('li').length }));
  if (root.index !== decisionIndex || !/decision/.test(root.type)) throw new Error(`lineage of entry ${decisionIndex}: ${JSON.stringify(root)}`);
  if (root.upstream < 1) throw new Error(`the decision at entry ${decisionIndex} names no upstream digest`);
  ok(`lineage of decision entry ${decisionIndex} (${root.type}) walks ${root.upstream} upstream digest(s)`);
  const chain = await page.$$eval(
    '#lineage-result li[data-type$="/decision/v1"] li[data-type$="/model/v1"] li[data-type$="/training-run/v1"] li[data-type$="/dataset/v1"]',
    (ls) =>
      ls.map((d) => {
        const run = d.parentElement.closest('li');
        const model = run.parentElement.closest('li');
        return { dataset: Number(d.dataset.index), run: Number(run.dataset.index), model: Number(model.dataset.index), modelText: model.textContent };
      }),
  );
  const full = chain.find((c) => c.dataset === market.entry.index);
  if (!full) {
    throw new Error(`the lineage of decision ${decisionIndex} does not reach decision → model → training-run → the market dataset (entry ${market.entry.index}): ${JSON.stringify(chain)}; ${await page.textContent('#lineage-result')}`);
  }
  const modelSt = await page.evaluate(async ([log, i]) => {
    const e = await (await fetch(`${log.replace(/\/$/, '')}/entry/${i}`)).json();
    return JSON.parse(atob(e.envelope.payload));
  }, [logUrl, full.model]);
  if (modelSt.predicate.model !== train.model) throw new Error(`the lineage's model statement ${full.model} is of ${modelSt.predicate.model}, not the train job's model ${train.model}`);
  await page.locator('#lineage-result').scrollIntoViewIfNeeded();
  await shot('7-lineage');
  ok(`lineage reaches decision ${decisionIndex} → model ${full.model} (${train.model.slice(0, 19)}…, job ${train.job}) → training-run ${full.run} → dataset ${full.dataset} (data/market)`);
  const anchorTx = await page.textContent('#log-anchor-tx');
  if (!/^0x[0-9a-f]{64}$/.test(anchorTx)) throw new Error(`the log's anchor is shown without its transaction: ${await page.textContent('#log-anchor')}`);
  ok(`the log's on-chain anchor is shown with its transaction: ${await page.textContent('#log-anchor')}`);

  if (pageErrors.length) throw new Error(`the page threw: ${pageErrors.join('; ')}`);
  console.log('dashboard browser test passed');
}

let code = 0;
try {
  await main();
} catch (e) {
  code = 1;
  console.error(`FAILED: ${e.message}`);
  if (pageErrors.length) console.error(`page errors: ${pageErrors.join('; ')}`);
  if (page) await shot('failure').catch(() => {});
} finally {
  if (context) await context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
process.exit(code);
