/**
 * `ttj/testing`: the store compliance suite, the executable contract of `JournalStore`.
 * A backend runs it with one line under mocha (it uses mocha's globals, so it is kept
 * out of the main entry):
 * ```ts
 * import { storeComplianceSuite } from 'ttj/testing';
 * storeComplianceSuite('my-backend', { open: (dir) => MyStore.open(dir) });
 * ```
 * @packageDocumentation
 */
export { storeComplianceSuite, type StoreFactory } from '../store/compliance-suite.js';
