#!/usr/bin/env node
// Writes oclif.manifest.json (git-ignored, part of `npm run build`): each command's id, flags
// and args, so `ttj <command>` loads only that command's module and `ttj --help` none,
// instead of importing every command (and the whole library) at start. Run after tsc.
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Config } from '@oclif/core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'oclif.manifest.json');
// A stale manifest must not be read while building the new one (oclif reads it even with ignoreManifest).
rmSync(out, { force: true });
const config = await Config.load({ root, ignoreManifest: true, errorOnManifestCreate: true });
const manifest = config.getPluginsList().find((p) => p.root === root)?.manifest;
if (!manifest || Object.keys(manifest.commands).length === 0) throw new Error('oclif found no commands in dist/src/commands: build first');
writeFileSync(out, JSON.stringify(manifest, null, 1) + '\n');
if (!process.argv.includes('--quiet')) console.log(`oclif.manifest.json: ${Object.keys(manifest.commands).length} commands`);
