// Transparency-log checks in the browser: C2SP checkpoints and tlog-tiles, RFC 6962 hashing,
// inclusion proofs computed from the tiles and verified against the checkpoint's root.
// SHA-256 is the browser's own (SubtleCrypto); nothing here trusts the server's arithmetic.

const TILE_HEIGHT = 8;
const TILE_WIDTH = 256;

/** SHA-256 of the concatenated byte arrays. */
async function sha256(...parts) {
  let len = 0;
  for (const p of parts) len += p.length;
  const buf = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    buf.set(p, off);
    off += p.length;
  }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
}

/** RFC 6962 leaf hash: SHA-256(0x00 || entry). */
export function leafHash(entry) {
  return sha256(new Uint8Array([0]), entry);
}

/** RFC 6962 interior node hash: SHA-256(0x01 || left || right). */
export function nodeHash(left, right) {
  return sha256(new Uint8Array([1]), left, right);
}

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function fromBase64(s) {
  const bin = atob(s);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

function equal(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Parses a signed checkpoint note: origin, size, root hash and the signature lines. */
export function parseCheckpoint(text) {
  const split = text.indexOf('\n\n');
  if (split < 0) throw new Error('the checkpoint has no signature block (no blank line)');
  const body = text.slice(0, split + 1);
  const lines = body.split('\n');
  if (lines.length < 4) throw new Error('the checkpoint needs an origin, a size and a root hash');
  const [origin, sizeLine, rootLine] = lines;
  if (!/^(0|[1-9][0-9]*)$/.test(sizeLine)) throw new Error(`checkpoint size ${JSON.stringify(sizeLine)} is not a number`);
  const size = Number(sizeLine);
  if (!Number.isSafeInteger(size)) throw new Error(`checkpoint size ${sizeLine} is too large for this page`);
  let root;
  try {
    root = fromBase64(rootLine);
  } catch {
    throw new Error('the checkpoint root hash is not base64');
  }
  if (root.length !== 32) throw new Error(`the checkpoint root hash is ${root.length} bytes, not 32`);
  const signatures = text
    .slice(split + 2)
    .split('\n')
    .filter((l) => l.startsWith('\u2014 '))
    .map((l) => {
      const [, name, sig] = l.split(' ');
      return { name, sig };
    });
  return { origin, size, root, body, signatures };
}

/**
 * Checks the log's Ed25519 signature on a checkpoint against a verifier key
 * `<name>+<hex key id>+<base64(0x01 || public key)>`. Returns the signer's name or throws.
 */
export async function verifyCheckpointSignature(checkpoint, vkey) {
  // The base64 key may itself contain '+': split at the first two only.
  const m = /^([^+]+)\+([0-9a-f]{8})\+(.+)$/.exec(vkey);
  if (!m) throw new Error('the verifier key is not <name>+<8 hex digits>+<base64 key>');
  const [, name, idHex, keyB64] = m;
  const key = fromBase64(keyB64);
  if (key.length !== 33 || key[0] !== 1) throw new Error('the verifier key is not an Ed25519 note key');
  const sig = checkpoint.signatures.find((s) => s.name === name);
  if (!sig) throw new Error(`the checkpoint has no signature by ${name}`);
  const raw = fromBase64(sig.sig);
  if (raw.length !== 68 || toHex(raw.slice(0, 4)) !== idHex) throw new Error(`the signature by ${name} is not from key ${idHex}`);
  const pub = await crypto.subtle.importKey('raw', key.slice(1), { name: 'Ed25519' }, false, ['verify']);
  const ok = await crypto.subtle.verify({ name: 'Ed25519' }, pub, raw.slice(4), new TextEncoder().encode(checkpoint.body));
  if (!ok) throw new Error(`the signature by ${name} does not verify`);
  return name;
}

/** `x001/x234/067` for 1234067 (C2SP tlog-tiles index encoding). */
export function encodeIndex(n) {
  const groups = [];
  do {
    groups.unshift(String(n % 1000).padStart(3, '0'));
    n = Math.floor(n / 1000);
  } while (n > 0);
  return groups.map((g, i) => (i < groups.length - 1 ? 'x' + g : g)).join('/');
}

function tileSuffix(index, width) {
  return encodeIndex(index) + (width < TILE_WIDTH ? `.p/${width}` : '');
}

/** Path of hash tile `index` at tile level `level`, `width` hashes wide. */
export function tilePath(level, index, width) {
  return `tile/${level}/${tileSuffix(index, width)}`;
}

/** Path of entry bundle `index`, `width` entries wide. */
export function entriesPath(index, width) {
  return `tile/entries/${tileSuffix(index, width)}`;
}

/** The entries of a bundle: each a big-endian u16 length, then its bytes. */
export function bundleEntries(bytes) {
  const out = [];
  let off = 0;
  while (off < bytes.length) {
    if (off + 2 > bytes.length) throw new Error(`entry bundle cut short in entry ${out.length}'s length`);
    const len = (bytes[off] << 8) | bytes[off + 1];
    off += 2;
    if (off + len > bytes.length) throw new Error(`entry bundle cut short in entry ${out.length}`);
    out.push(bytes.slice(off, off + len));
    off += len;
  }
  return out;
}

function pow2Below(n) {
  // Largest power of two strictly less than n (n >= 2).
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * Reads the tree of a checkpoint of `size` entries from its tiles. `fetchBytes(path)` returns a
 * tile's bytes, or null when the server does not have it.
 */
export class TileTree {
  constructor(size, fetchBytes) {
    this.size = size;
    this.fetchBytes = fetchBytes;
    this.tiles = new Map();
    this.fetched = [];
  }

  /** Bytes of a tile of `width` items; a missing partial tile is read as a prefix of the full one. */
  async tile(path, fullPath, width, itemSize) {
    const key = path;
    if (!this.tiles.has(key)) {
      let bytes = await this.fetchBytes(path);
      this.fetched.push(path);
      if (bytes === null && path !== fullPath) {
        bytes = await this.fetchBytes(fullPath);
        this.fetched.push(fullPath);
      }
      if (bytes === null) throw new Error(`the log has no ${path}`);
      this.tiles.set(key, bytes);
    }
    return this.tiles.get(key);
  }

  /** The stored hash of node `index` at tree level `8 * tileLevel`. */
  async storedHash(tileLevel, index) {
    const t = Math.floor(index / TILE_WIDTH);
    const nodes = Math.floor(this.size / 2 ** (TILE_HEIGHT * tileLevel));
    const width = Math.min(TILE_WIDTH, nodes - t * TILE_WIDTH);
    if (width <= 0) throw new Error(`node ${index} at level ${TILE_HEIGHT * tileLevel} is not in a tree of ${this.size}`);
    const bytes = await this.tile(tilePath(tileLevel, t, width), tilePath(tileLevel, t, TILE_WIDTH), width, 32);
    const i = index % TILE_WIDTH;
    if (bytes.length < (i + 1) * 32) throw new Error(`tile ${tilePath(tileLevel, t, width)} is ${bytes.length} bytes, too short for hash ${i}`);
    return bytes.slice(i * 32, (i + 1) * 32);
  }

  /** Hash of the full subtree at tree `level` with `index` (covering 2^level leaves). */
  async node(level, index) {
    const tileLevel = Math.floor(level / TILE_HEIGHT);
    const sub = level - tileLevel * TILE_HEIGHT;
    if (sub === 0) return this.storedHash(tileLevel, index);
    const span = 2 ** sub;
    let hashes = [];
    for (let j = index * span; j < (index + 1) * span; j++) hashes.push(await this.storedHash(tileLevel, j));
    while (hashes.length > 1) {
      const up = [];
      for (let j = 0; j < hashes.length; j += 2) up.push(await nodeHash(hashes[j], hashes[j + 1]));
      hashes = up;
    }
    return hashes[0];
  }

  /** RFC 6962 MTH of leaves [lo, hi). */
  async range(lo, hi) {
    const n = hi - lo;
    if (n <= 0) throw new Error('empty range');
    if ((n & (n - 1)) === 0 && lo % n === 0) return this.node(Math.log2(n), lo / n);
    const k = pow2Below(n);
    return nodeHash(await this.range(lo, lo + k), await this.range(lo + k, hi));
  }

  /** RFC 6962 PATH(index, D[lo:hi]): the sibling hashes from the leaf up. */
  async inclusionProof(index, lo = 0, hi = this.size) {
    const n = hi - lo;
    if (n <= 1) return [];
    const k = pow2Below(n);
    if (index < lo + k) return [...(await this.inclusionProof(index, lo, lo + k)), await this.range(lo + k, hi)];
    return [...(await this.inclusionProof(index, lo + k, hi)), await this.range(lo, lo + k)];
  }

  /** The entry at `index`, from its entry bundle. */
  async entry(index) {
    const t = Math.floor(index / TILE_WIDTH);
    const width = Math.min(TILE_WIDTH, this.size - t * TILE_WIDTH);
    const bytes = await this.tile(entriesPath(t, width), entriesPath(t, TILE_WIDTH), width, 0);
    const entries = bundleEntries(bytes);
    const e = entries[index % TILE_WIDTH];
    if (!e) throw new Error(`entry bundle ${entriesPath(t, width)} has ${entries.length} entries, not ${(index % TILE_WIDTH) + 1}`);
    return e;
  }
}

/**
 * RFC 9162 §2.1.3.2: recomputes the root from a leaf hash and its inclusion proof and compares it
 * with `root`. Independent of how the proof was assembled.
 */
export async function verifyInclusion(leaf, index, size, proof, root) {
  if (index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(r, root);
}

/**
 * Fetches the checkpoint and tiles of the log at `logUrl` and checks that entry `index` is in the
 * tree the checkpoint signs (and, given the log's verifier key `vkey`, that the log signed the
 * checkpoint). `fetch` may be replaced (tests). Returns what was checked; `ok` is the verdict.
 */
export async function checkEntry(logUrl, index, { vkey, fetch: fetchFn = fetch } = {}) {
  const base = logUrl.replace(/\/$/, '');
  const get = async (path) => {
    const r = await fetchFn(`${base}/${path}`, { cache: 'no-store' });
    if (r.status === 404) return null;
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status} ${await r.text()}`);
    return new Uint8Array(await r.arrayBuffer());
  };
  const cpBytes = await get('checkpoint');
  if (cpBytes === null) throw new Error('the log has no checkpoint yet');
  const checkpoint = parseCheckpoint(new TextDecoder().decode(cpBytes));
  let signedBy = null;
  let signatureError = null;
  if (vkey) {
    try {
      signedBy = await verifyCheckpointSignature(checkpoint, vkey);
    } catch (e) {
      signatureError = e.message;
    }
  }
  if (!Number.isSafeInteger(index) || index < 0) throw new Error(`entry index ${index} is not a whole number`);
  if (index >= checkpoint.size) {
    throw new Error(`entry ${index} is not in the checkpoint yet: it covers entries 0 to ${checkpoint.size - 1}`);
  }
  const tree = new TileTree(checkpoint.size, get);
  const entry = await tree.entry(index);
  const leaf = await leafHash(entry);
  const proof = await tree.inclusionProof(index);
  const included = await verifyInclusion(leaf, index, checkpoint.size, proof, checkpoint.root);
  return {
    ok: included && signatureError === null,
    included,
    signedBy,
    signatureError,
    checkpoint,
    entry,
    leaf,
    proof,
    fetched: tree.fetched,
  };
}

/** `hex` (64 digits) as 32 bytes. */
function fromHex(hex) {
  if (!/^[0-9a-f]{64}$/i.test(hex)) throw new Error(`${JSON.stringify(hex)} is not a 32-byte hex hash`);
  return Uint8Array.from(hex.match(/../g), (b) => parseInt(b, 16));
}

/**
 * Checks that entry `index` is in the tree of `size` entries whose RFC 6962 root is `rootHex` —
 * an anchor read from the chain — by recomputing its inclusion proof from the log's tiles (the
 * tree at that size, partial tiles read as prefixes of later ones). Returns { included, proof }.
 */
export async function checkAnchored(logUrl, index, size, rootHex, { fetch: fetchFn = fetch } = {}) {
  const base = logUrl.replace(/\/$/, '');
  const get = async (path) => {
    const r = await fetchFn(`${base}/${path}`, { cache: 'no-store' });
    if (r.status === 404) return null;
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status} ${await r.text()}`);
    return new Uint8Array(await r.arrayBuffer());
  };
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
    return { included: false, proof: [], reason: `entry ${index} is past the anchored tree of ${size} entries` };
  }
  const tree = new TileTree(size, get);
  const leaf = await leafHash(await tree.entry(index));
  const proof = await tree.inclusionProof(index);
  return { included: await verifyInclusion(leaf, index, size, proof, fromHex(rootHex)), proof };
}
