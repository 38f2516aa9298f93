#!/usr/bin/env node
// Compiles every contract in contracts/ with the pinned solcjs (package.json) through
// solc's standard JSON interface, optimizer on, and writes one artifact per deployable
// contract to artifacts/<Name>.json (ABI, creation bytecode, deployed bytecode).
//
//   node compile.js          write artifacts/
//   node compile.js --check  compile in memory; exit 1 if artifacts/ differs (stale)
//
// The artifacts are committed so that building the Rust workspace never needs solc.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require('solc');

const ROOT = __dirname;
const SRC = path.join(ROOT, 'contracts');
const OUT = path.join(ROOT, 'artifacts');
// Contracts deployed by genesis; libraries and interfaces are compiled into them.
const DEPLOYABLE = ['Consortium', 'TradeOrders', 'Receivables', 'Consents'];
const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  viaIR: true,
  // cancun runs on the embedded revm (Osaka) and on Hardhat 2's default hardfork alike.
  evmVersion: 'cancun',
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
};

function findImports(p) {
  const candidates = [path.join(ROOT, 'node_modules', p), path.join(SRC, p)];
  for (const c of candidates) {
    if (fs.existsSync(c)) return { contents: fs.readFileSync(c, 'utf8') };
  }
  return { error: `import not found: ${p}` };
}

function compile() {
  const sources = {};
  for (const f of fs.readdirSync(SRC).filter((f) => f.endsWith('.sol')).sort()) {
    sources[f] = { content: fs.readFileSync(path.join(SRC, f), 'utf8') };
  }
  const input = { language: 'Solidity', sources, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const errors = (output.errors || []).filter((e) => e.severity === 'error');
  for (const e of output.errors || []) process.stderr.write(e.formattedMessage + '\n');
  if (errors.length) process.exit(2);
  const artifacts = {};
  for (const [file, contracts] of Object.entries(output.contracts)) {
    for (const [name, c] of Object.entries(contracts)) {
      if (!DEPLOYABLE.includes(name)) continue;
      const deployed = c.evm.deployedBytecode.object;
      if (deployed.length / 2 > 24576) {
        process.stderr.write(`${name}: deployed size ${deployed.length / 2} bytes exceeds EIP-170\n`);
        process.exit(3);
      }
      artifacts[name] = {
        contractName: name,
        sourceName: `contracts/${file}`,
        compiler: `solc ${solc.version()}`,
        settings: { optimizer: SETTINGS.optimizer, viaIR: SETTINGS.viaIR, evmVersion: SETTINGS.evmVersion },
        abi: c.abi,
        bytecode: '0x' + c.evm.bytecode.object,
        deployedBytecode: '0x' + deployed,
      };
    }
  }
  for (const name of DEPLOYABLE) {
    if (!artifacts[name]) {
      process.stderr.write(`contract ${name} not found in the sources\n`);
      process.exit(2);
    }
  }
  // Every custom error any contract can raise, in one ABI, so a client decodes a revert
  // bubbled up from any contract (e.g. Consortium's, raised under TradeOrders) with one table.
  const seen = new Map();
  for (const name of DEPLOYABLE) {
    for (const item of artifacts[name].abi) {
      if (item.type !== 'error') continue;
      const sig = `${item.name}(${item.inputs.map((i) => i.type).join(',')})`;
      if (!seen.has(sig)) seen.set(sig, item);
    }
  }
  const allErrors = [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, item]) => item);
  artifacts.TradechainErrors = { contractName: 'TradechainErrors', sourceName: 'contracts/Errors.sol', abi: allErrors };
  return artifacts;
}

const check = process.argv.includes('--check');
const artifacts = compile();
let stale = [];
for (const [name, a] of Object.entries(artifacts)) {
  const file = path.join(OUT, `${name}.json`);
  const text = JSON.stringify(a, null, 2) + '\n';
  if (check) {
    const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    if (old !== text) stale.push(name);
  } else {
    fs.mkdirSync(OUT, { recursive: true });
    fs.writeFileSync(file, text);
    if (a.deployedBytecode) process.stdout.write(`${name}: ${(a.deployedBytecode.length - 2) / 2} bytes deployed\n`);
  }
}
if (check) {
  if (stale.length) {
    process.stderr.write(`stale artifacts (run \`npm run compile\` in contracts-sol/): ${stale.join(', ')}\n`);
    process.exit(1);
  }
  process.stdout.write('artifacts are up to date\n');
}
