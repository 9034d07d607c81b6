// node runner for benches/run.sh: `node run_node.mjs APP.wasm` runs the WASI
// command's `_start` with node:wasi (preview1) and exits with its code.
// Rule: stdio is inherited; nothing else of the host is exposed.
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';
import process from 'node:process';

const wasi = new WASI({ version: 'preview1', args: ['app'], env: {}, returnOnExit: true });
const module = await WebAssembly.compile(await readFile(process.argv[2]));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
