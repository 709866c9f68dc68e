// The dashboard's log checks (web/tlog.js) run under Node against a tree written to disk by the
// Rust implementation (bin/cairn/tests/dashboard.rs): prints one JSON line per index with the
// verdict and the proof it computed, first untouched, then with every hash tile above level 0
// altered (each byte inverted), then against another log key. With ANCHOR=<size>:<root hex> (an
// on-chain anchor of an earlier tree size), each index is also checked against that anchored tree
// (checkAnchored), and against its root with one bit flipped.
//
//   [ANCHOR=<size>:<root hex>] node tests/browser/tlog-check.mjs <dir with checkpoint + tile/...> <log vkey> <other vkey> <index>...
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkAnchored, checkEntry, toHex } from '../../web/tlog.js';

const [dir, vkey, otherKey, ...indexes] = process.argv.slice(2);
if (!dir || !vkey || !otherKey || indexes.length === 0) {
  console.error('usage: tlog-check.mjs <dir> <log vkey> <other vkey> <index>...');
  process.exit(2);
}

function files(tamper) {
  return async (url) => {
    const path = url.replace(/^file:\/\/log\//, '');
    let bytes;
    try {
      bytes = await readFile(join(dir, path));
    } catch {
      return new Response('not found', { status: 404 });
    }
    if (tamper && /^tile\/[1-9]\d*\//.test(path)) bytes = bytes.map((b) => b ^ 0xff);
    return new Response(bytes, { status: 200 });
  };
}

for (const [mode, key, tamper] of [
  ['clean', vkey, false],
  ['tampered', vkey, true],
  ['other-key', otherKey, false],
]) {
  for (const i of indexes) {
    let out;
    try {
      const r = await checkEntry('file://log/', Number(i), { vkey: key, fetch: files(tamper) });
      out = {
        mode,
        index: Number(i),
        ok: r.ok,
        included: r.included,
        signedBy: r.signedBy,
        signatureError: r.signatureError,
        entry: new TextDecoder().decode(r.entry),
        proof: r.proof.map(toHex),
      };
    } catch (e) {
      out = { mode, index: Number(i), error: e.message };
    }
    console.log(JSON.stringify(out));
  }
}

if (process.env.ANCHOR) {
  const [size, root] = process.env.ANCHOR.split(':');
  const flipped = (parseInt(root[0], 16) ^ 1).toString(16) + root.slice(1);
  for (const [mode, r] of [
    ['anchored', root],
    ['anchored-wrong-root', flipped],
  ]) {
    for (const i of indexes) {
      let out;
      try {
        const a = await checkAnchored('file://log/', Number(i), Number(size), r, { fetch: files(false) });
        out = { mode, index: Number(i), included: a.included, proof: a.proof.map(toHex), reason: a.reason };
      } catch (e) {
        out = { mode, index: Number(i), error: e.message };
      }
      console.log(JSON.stringify(out));
    }
  }
}
