/**
 * Silences console.log around each test of the enclosing describe (oclif commands run
 * in-process print their --json result). Call inside describe().
 */
export function quietConsole(): void {
  let log: typeof console.log;
  beforeEach(() => {
    log = console.log;
    console.log = () => undefined;
  });
  afterEach(() => {
    console.log = log;
  });
}
