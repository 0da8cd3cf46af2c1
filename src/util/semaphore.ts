/** A counting semaphore: at most `count` holders at once; {@link acquire} waits, in order, for a release. */
export class Semaphore {
  private readonly waiters: (() => void)[] = [];

  constructor(private count: number) {}

  acquire(): Promise<void> {
    if (this.count > 0) {
      this.count--;
      return Promise.resolve();
    }
    return new Promise((r) => this.waiters.push(r));
  }

  release(): void {
    const w = this.waiters.shift();
    if (w) w();
    else this.count++;
  }
}
