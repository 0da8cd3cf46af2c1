/** A one-line progress bar on stderr; silent when not enabled (--json, or not a terminal). */
export class Progress {
  private last = 0;
  private shown = false;

  constructor(
    private readonly label: string,
    private readonly enabled: boolean,
  ) {}

  update(done: number, total: number, unit: 'bytes' | 'items' = 'bytes'): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.last < 100 && done < total) return;
    this.last = now;
    this.shown = true;
    const pct = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 0;
    const width = 30;
    const fill = Math.round((pct / 100) * width);
    const fmt = (n: number) => (unit === 'bytes' ? `${(n / 1048576).toFixed(1)} MiB` : String(n));
    process.stderr.write(`\r${this.label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${String(pct).padStart(3)}% ${fmt(done)}/${fmt(total)}\x1b[K`);
  }

  done(): void {
    if (this.enabled && this.shown) process.stderr.write('\r\x1b[K');
    this.shown = false;
  }
}
