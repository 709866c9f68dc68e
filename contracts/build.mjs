// Compiles Cairn's Solidity sources with solc-js (standard JSON, optimizer on), compiles a few
// selected sources straight from npm packages (Chainlink's MockV3Aggregator), and extracts the
// Uniswap V2 artifacts from their npm packages, writing everything to contracts/out/.
//
// Each artifact is `{ "contractName", "abi", "bytecode", "deployedBytecode" }` with 0x-prefixed
// hex, the shape alloy's `sol!` macro reads. `contracts/out/STAMP` records a SHA-256 over the
// sources and the compiler version; the Rust build (crates/contracts/build.rs) recomputes it and
// refuses to build against stale artifacts.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const require = createRequire(import.meta.url);

let solc;
try {
  solc = require('solc');
} catch {
  console.error('error: solc-js is not installed; run `npm ci` in the repository root first');
  process.exit(1);
}

const srcDir = join(here, 'src');
const outDir = join(here, 'out');
const sourceNames = readdirSync(srcDir).filter((f) => f.endsWith('.sol')).sort();

// The stamp must match crates/contracts/build.rs byte for byte. The compiler version is not in
// it: a new solc arrives with a new package-lock.json, and the Makefile rebuilds on that.
function stamp() {
  const h = createHash('sha256');
  for (const name of sourceNames) {
    const body = readFileSync(join(srcDir, name));
    h.update(`${name}\n${body.length}\n`);
    h.update(body);
  }
  return h.digest('hex');
}

function findImport(path) {
  for (const base of [join(root, 'node_modules'), srcDir]) {
    const full = join(base, path);
    if (existsSync(full)) return { contents: readFileSync(full, 'utf8') };
  }
  return { error: `import not found: ${path} (is @openzeppelin/contracts installed? run npm ci)` };
}

// Contracts compiled from their npm package's own source, never copied into this repository:
// import path inside node_modules -> subdirectory of contracts/out/. The package versions are
// pinned by package-lock.json (a new lock file triggers a rebuild in the Makefile).
const npmSources = {
  // Chainlink's mock aggregator (AggregatorV3Interface): the devnet's price feeds.
  '@chainlink/contracts/src/v0.8/shared/mocks/MockV3Aggregator.sol': 'chainlink',
};
const npmInputs = {};
for (const path of Object.keys(npmSources)) {
  const full = join(root, 'node_modules', path);
  if (!existsSync(full)) {
    console.error(`error: ${path} not found in node_modules; run \`npm ci\` in the repository root`);
    process.exit(1);
  }
  npmInputs[path] = { content: readFileSync(full, 'utf8') };
}

const input = {
  language: 'Solidity',
  sources: {
    ...Object.fromEntries(
      sourceNames.map((n) => [n, { content: readFileSync(join(srcDir, n), 'utf8') }]),
    ),
    ...npmInputs,
  },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: 'cancun',
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
  },
};

const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));
const errors = (output.errors || []).filter((e) => e.severity === 'error');
for (const e of output.errors || []) console.error(e.formattedMessage);
if (errors.length) {
  console.error(`error: solc reported ${errors.length} error(s); contracts/out left unchanged`);
  process.exit(1);
}

mkdirSync(join(outDir, 'uniswap'), { recursive: true });

// Atomic write: a crash never leaves a half-written artifact the Rust build would read.
function write(path, value) {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, typeof value === 'string' ? value : JSON.stringify(value, null, 1));
  renameSync(tmp, path);
}
const hex = (s) => (s.startsWith('0x') ? s : `0x${s}`);

let count = 0;
for (const file of sourceNames) {
  for (const [name, c] of Object.entries(output.contracts[file] || {})) {
    write(join(outDir, `${name}.json`), {
      contractName: name,
      abi: c.abi,
      bytecode: hex(c.evm.bytecode.object),
      deployedBytecode: hex(c.evm.deployedBytecode.object),
    });
    count += 1;
  }
}

for (const [path, sub] of Object.entries(npmSources)) {
  mkdirSync(join(outDir, sub), { recursive: true });
  const file = path.split('/').pop();
  const name = file.replace(/\.sol$/, '');
  const c = (output.contracts[path] || {})[name];
  if (!c || !c.evm.bytecode.object) {
    console.error(`error: solc produced no bytecode for ${name} from ${path}`);
    process.exit(1);
  }
  write(join(outDir, sub, `${name}.json`), {
    contractName: name,
    abi: c.abi,
    bytecode: hex(c.evm.bytecode.object),
    deployedBytecode: hex(c.evm.deployedBytecode.object),
  });
  count += 1;
}

// Uniswap V2: bytecode straight from the npm packages' build output, never from this repository.
const uniswap = {
  UniswapV2Factory: '@uniswap/v2-core/build/UniswapV2Factory.json',
  UniswapV2Pair: '@uniswap/v2-core/build/UniswapV2Pair.json',
  UniswapV2Router02: '@uniswap/v2-periphery/build/UniswapV2Router02.json',
  WETH9: '@uniswap/v2-periphery/build/WETH9.json',
};
for (const [name, pkgPath] of Object.entries(uniswap)) {
  let art;
  try {
    art = require(pkgPath);
  } catch {
    console.error(`error: ${pkgPath} not found; run \`npm ci\` in the repository root`);
    process.exit(1);
  }
  write(join(outDir, 'uniswap', `${name}.json`), {
    contractName: name,
    abi: art.abi,
    bytecode: hex(art.bytecode),
    deployedBytecode: hex(art.evm?.deployedBytecode?.object ?? ''),
  });
}

write(join(outDir, 'STAMP'), `${stamp()}\n`);
console.log(`contracts: compiled ${count} contract(s) with solc ${solc.version()}, extracted ${Object.keys(uniswap).length} Uniswap V2 artifacts -> contracts/out/`);
