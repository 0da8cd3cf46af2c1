/**
 * Statements through a store's pool, with errors converted at the boundary
 * (./pg-errors.ts).
 */
import type pg from 'pg';
import { toStoreError } from './pg-errors.js';

/** Runs one statement and returns its rows. */
export interface Queryable {
  query(text: string, values: unknown[], what: string): Promise<Record<string, unknown>[]>;
}

/** A {@link Queryable} over a pool (or a client) of the store at `display`. */
export function queryable(db: pg.Pool | pg.ClientBase, display: string): Queryable {
  return {
    async query(text, values, what) {
      try {
        return (await db.query(text, values)).rows;
      } catch (e) {
        throw toStoreError(e, display, what);
      }
    },
  };
}
