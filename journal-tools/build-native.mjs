#!/usr/bin/env node
// Builds the N-API page scanner in native/ with node-gyp. Never fails the install:
// when the addon cannot be built, ttj uses its TypeScript fallback (ttj doctor says so).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const quiet = process.argv.includes('--quiet');
const dir = join(root, 'native');
if (!existsSync(join(dir, 'binding.gyp'))) process.exit(0);
let gyp;
try {
  gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
} catch {
  if (!quiet) console.warn('ttj: node-gyp is not installed; the native scanner is not built');
  process.exit(0);
}
// Build against this Node's own headers when they are installed (no download needed).
const args = [gyp, 'rebuild'];
const prefix = dirname(dirname(process.execPath));
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
const r = spawnSync(process.execPath, args, { cwd: dir, stdio: quiet ? 'pipe' : 'inherit' });
if (r.status !== 0) {
  console.warn('ttj: the native page scanner did not build; the TypeScript fallback will be used');
  if (quiet && r.stderr) console.warn(String(r.stderr).split('\n').slice(-15).join('\n'));
}
