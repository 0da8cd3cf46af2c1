import { storeComplianceSuite } from '../../src/store/compliance-suite.js';
import { LocalStore } from '../../src/store/local-store.js';

storeComplianceSuite('LevelDB index + pack files', {
  open: (dir) => LocalStore.open(dir, { create: true }),
  reader: (dir) => LocalStore.open(dir),
});
