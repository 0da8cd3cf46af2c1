#!/usr/bin/env node
// tsc does not emit the generated protobufjs code (plain JS + .d.ts): copy it into dist.
import { cpSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
mkdirSync(join(root, 'dist', 'src', 'gen'), { recursive: true });
for (const f of ['events.js', 'events.d.ts']) cpSync(join(root, 'src', 'gen', f), join(root, 'dist', 'src', 'gen', f));
