import { storeComplianceSuite } from '../../src/store/compliance-suite.js';
import { LocalStore } from '../../src/store/local-store.js';

storeComplianceSuite('LevelDB index + pack files', {
  open: (dir) => LocalStore.open(dir, { create: true }),
  reader: (dir) => LocalStore.open(dir),
});

// The same contract with blob bytes through the page cache (no direct I/O).
storeComplianceSuite('LevelDB index + pack files, cache=writeback', {
  open: (dir) => LocalStore.open(dir, { create: true, cache: 'writeback' }),
  reader: (dir) => LocalStore.open(dir, { cache: 'writeback' }),
});
