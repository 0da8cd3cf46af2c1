#!/usr/bin/env node
// The ttj command line (oclif). Errors are reported by the commands themselves
// (TtjError with a stable code); here only their exit code is kept.
import { flush, handle, run } from '@oclif/core';

try {
  await run(process.argv.slice(2), import.meta.url);
  await flush();
} catch (e) {
  if (typeof e?.code === 'string' && e.code.startsWith('TTJ_')) {
    if (!process.exitCode) process.exitCode = 1;
  } else {
    await handle(e);
  }
}
