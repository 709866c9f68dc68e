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

// The vault's `buy` is the hot path (every DCA buy pays it; the vault is deployed once), so it is
// optimized for run time; the other contracts keep the default balance of size and run time
// (ComputeMarket must stay under the 24 KiB code limit).
const RUNTIME_OPTIMIZED = { 'AgentVault.sol': 1_000_000 };
function compile(names, runs) {
  const input = {
    language: 'Solidity',
    sources: {
      ...Object.fromEntries(names.map((n) => [n, { content: readFileSync(join(srcDir, n), 'utf8') }])),
      ...npmInputs,
    },
    settings: {
      optimizer: { enabled: true, runs },
      evmVersion: 'cancun',
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
    },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));
  const errors = (out.errors || []).filter((e) => e.severity === 'error');
  for (const e of out.errors || []) console.error(e.formattedMessage);
  if (errors.length) {
    console.error(`error: solc reported ${errors.length} error(s); contracts/out left unchanged`);
    process.exit(1);
  }
  return out;
}
const output = compile(sourceNames.filter((n) => !(n in RUNTIME_OPTIMIZED)), 200);
for (const [n, runs] of Object.entries(RUNTIME_OPTIMIZED)) {
  if (sourceNames.includes(n)) output.contracts[n] = compile([n], runs).contracts[n];
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

// PancakeSwap (the second devnet venue): factory and pair straight from the npm package's build
// output. The package ships no router, so one is built here, at build time, from Uniswap's
// Router02 source in @uniswap/v2-periphery: its pair library gets PancakePair's init-code hash
// (keccak256 of the package's pair creation code) and PancakePair's fee (read from the pair's
// own `swap` source), and is compiled with solc 0.6.6 (the source's pragma; npm `solc-0.6.6`).
// Nothing of either package is copied into this repository.
const pancakeCore = '@pancakeswap-libs/pancake-swap-core';
mkdirSync(join(outDir, 'pancake'), { recursive: true });
const pancakeArt = {};
for (const name of ['PancakeFactory', 'PancakePair']) {
  let art;
  try {
    art = require(`${pancakeCore}/build/${name}.json`);
  } catch {
    console.error(`error: ${pancakeCore}/build/${name}.json not found; run \`npm ci\` in the repository root`);
    process.exit(1);
  }
  pancakeArt[name] = art;
  write(join(outDir, 'pancake', `${name}.json`), {
    contractName: name,
    abi: art.abi,
    bytecode: hex(art.bytecode),
    deployedBytecode: hex(art.evm?.deployedBytecode?.object ?? ''),
  });
}
const { keccak256 } = require('js-sha3');
const pairCode = pancakeArt.PancakePair.bytecode.replace(/^0x/, '');
const pancakeInitHash = keccak256(Buffer.from(pairCode, 'hex'));
// The pair's fee: `balance0.mul(1000).sub(amount0In.mul(F))` keeps (1000 - F) / 1000 of the input.
const pairSrc = readFileSync(join(root, 'node_modules', pancakeCore, 'contracts', 'PancakePair.sol'), 'utf8');
const feeMatch = pairSrc.match(/balance0\.mul\((\d+)\)\.sub\(amount0In\.mul\((\d+)\)\)/);
if (!feeMatch) {
  console.error(`error: cannot find the fee in ${pancakeCore}'s PancakePair.sol swap()`);
  process.exit(1);
}
const feeDenom = feeMatch[1];
const feeKeep = String(Number(feeMatch[1]) - Number(feeMatch[2]));
const uniLib = '@uniswap/v2-periphery/contracts/libraries/UniswapV2Library.sol';
const uniHash = '96e8ac4277198ff8b6f785478aa9a39f403cb768dd02cbee326c3e7da348845f';
function routerImport(path) {
  const full = join(root, 'node_modules', path);
  if (!existsSync(full)) return { error: `import not found: ${path} (run npm ci)` };
  let src = readFileSync(full, 'utf8');
  if (path === uniLib) {
    const before = src;
    src = src
      .replace(`hex'${uniHash}'`, `hex'${pancakeInitHash}'`)
      .replace(/\.mul\(997\)/g, `.mul(${feeKeep})`)
      .replace(/\.mul\(1000\)/g, `.mul(${feeDenom})`);
    if (src === before || src.includes(uniHash) || src.includes('997')) {
      console.error(`error: ${uniLib} changed upstream: the init-code hash or the 997/1000 fee was not found`);
      process.exit(1);
    }
  }
  return { contents: src };
}
let solc066;
try {
  solc066 = require('solc-0.6.6');
} catch {
  console.error('error: solc 0.6.6 (npm solc-0.6.6) is not installed; run `npm ci` in the repository root');
  process.exit(1);
}
const routerPath = '@uniswap/v2-periphery/contracts/UniswapV2Router02.sol';
const routerOut = JSON.parse(
  solc066.compile(
    JSON.stringify({
      language: 'Solidity',
      sources: { [routerPath]: { content: routerImport(routerPath).contents } },
      settings: {
        optimizer: { enabled: true, runs: 999999 },
        evmVersion: 'istanbul',
        outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
      },
    }),
    { import: routerImport },
  ),
);
const routerErrors = (routerOut.errors || []).filter((e) => e.severity === 'error');
if (routerErrors.length) {
  for (const e of routerErrors) console.error(e.formattedMessage);
  console.error('error: solc 0.6.6 could not compile the Pancake router');
  process.exit(1);
}
const router = routerOut.contracts[routerPath].UniswapV2Router02;
write(join(outDir, 'pancake', 'PancakeRouter.json'), {
  contractName: 'PancakeRouter',
  abi: router.abi,
  bytecode: hex(router.evm.bytecode.object),
  deployedBytecode: hex(router.evm.deployedBytecode.object),
});

write(join(outDir, 'STAMP'), `${stamp()}\n`);
console.log(`contracts: compiled ${count} contract(s) with solc ${solc.version()}, extracted ${Object.keys(uniswap).length} Uniswap V2 artifacts, Pancake factory + pair, router built with init-code hash 0x${pancakeInitHash} and fee ${feeKeep}/${feeDenom} -> contracts/out/`);
