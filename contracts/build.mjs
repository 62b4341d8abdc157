// Compiles zkmargin's contracts with the pinned solc-js (package.json / package-lock.json:
// the compiler ships inside the npm package, nothing is downloaded at run time) and writes
// one artifact per contract under out/ with solc's standard JSON field names:
// {"contract", "source", "compiler", "settings", "abi", "evm": {"bytecode": {"object"},
// "deployedBytecode": {"object"}}}.
//
//   node build.mjs                 write out/*.json
//   node build.mjs --check         recompile and compare with out/*.json byte for byte
//   node build.mjs --out DIR       write the artifacts under DIR instead
//
// The same sources, compiler and settings give the same bytes (the metadata hash at the end
// of the bytecode covers the sources, so any edit shows).
import { readFileSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const solc = require("solc");

// Source unit names are relative to this folder (they enter the metadata hash).
const CONTRACTS = [
  { source: "MarginVerdictRegistry.sol", name: "MarginVerdictRegistry" },
  { source: "test/ExampleLender.sol", name: "ExampleLender" },
];

// Cancun: supported by Ethereum and the major L2s (PUSH0, MCOPY, transient storage).
const SETTINGS = {
  optimizer: { enabled: true, runs: 10000 },
  evmVersion: "cancun",
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
};

function findImports(path) {
  const file = path.startsWith("@openzeppelin/") ? join(here, "node_modules", path) : join(here, path);
  if (!existsSync(file)) return { error: `not found: ${path}` };
  return { contents: readFileSync(file, "utf8") };
}

function compile() {
  const sources = {};
  for (const c of CONTRACTS) sources[c.source] = { content: readFileSync(join(here, c.source), "utf8") };
  const input = { language: "Solidity", sources, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  for (const e of output.errors || []) process.stderr.write(e.formattedMessage + "\n");
  if (errors.length) throw new Error(`solc: ${errors.length} error(s)`);
  const artifacts = {};
  for (const c of CONTRACTS) {
    const out = output.contracts[c.source][c.name];
    const artifact = {
      contract: c.name,
      source: c.source,
      compiler: `solc-js ${solc.version()}`,
      settings: { optimizer: SETTINGS.optimizer, evmVersion: SETTINGS.evmVersion },
      abi: out.abi,
      evm: {
        bytecode: { object: out.evm.bytecode.object },
        deployedBytecode: { object: out.evm.deployedBytecode.object },
      },
    };
    artifacts[`${c.name}.json`] = JSON.stringify(artifact, null, 2) + "\n";
  }
  return artifacts;
}

const args = process.argv.slice(2);
const check = args.includes("--check");
const outIndex = args.indexOf("--out");
const outDir = outIndex >= 0 ? args[outIndex + 1] : join(here, "out");
const artifacts = compile();
if (check) {
  let stale = 0;
  for (const [file, text] of Object.entries(artifacts)) {
    const path = join(here, "out", file);
    const committed = existsSync(path) ? readFileSync(path, "utf8") : null;
    if (committed !== text) {
      process.stderr.write(`contracts: out/${file} is not what the sources compile to (run: node contracts/build.mjs)\n`);
      stale++;
    } else {
      const size = JSON.parse(text).evm.deployedBytecode.object.length / 2;
      console.log(`contracts: out/${file} reproduced byte for byte (runtime code ${size} bytes)`);
    }
  }
  process.exit(stale ? 1 : 0);
}
mkdirSync(outDir, { recursive: true });
for (const [file, text] of Object.entries(artifacts)) {
  writeFileSync(join(outDir, file), text);
  console.log(`wrote ${join(outDir, file)}`);
}
