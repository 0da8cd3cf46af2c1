import { PgCluster } from '../../journal-tools/postgres/cluster.js';

/**
 * A throwaway PostgreSQL cluster for the enclosing describe: started before its tests,
 * destroyed after them (continued first, should a test have stopped it). Call inside
 * describe(); the returned function gives the running cluster.
 */
export function usePgCluster(): () => PgCluster {
  let cluster: PgCluster | undefined;
  before(async () => {
    cluster = await PgCluster.start();
  });
  after(async () => {
    await cluster?.destroy();
  });
  return () => cluster!;
}
