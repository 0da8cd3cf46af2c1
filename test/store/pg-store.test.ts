/**
 * The PostgreSQL store runs the store compliance suite against a real PostgreSQL 15
 * server (a throwaway cluster of its own, see journal-tools/postgres/cluster.ts).
 */
import { basename, dirname } from 'node:path';
import { storeComplianceSuite } from '../../src/store/compliance-suite.js';
import { PgStore } from '../../src/store/pg/pg-store.js';
import { usePgCluster } from '../helpers/pg-cluster.js';

describe('PostgreSQL store', function () {
  this.timeout(60000);
  const cluster = usePgCluster();
  // The suite's directory names one journal each (the database holds them all).
  const url = (dir: string) => cluster().url(basename(dirname(dir)));
  storeComplianceSuite('PostgreSQL 15', {
    open: (dir) => PgStore.open(url(dir), { create: true }),
    reader: (dir) => PgStore.open(url(dir)),
  });
});
