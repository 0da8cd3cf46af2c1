/** Hex dumps for the terminal: one region (`blame --show`), and two versions of rows side by side (`diff --hex`). */

const ROW = 16;

const hexBytes = (b: Buffer) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');
const ascii = (b: Buffer) => [...b].map((x) => (x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : '.')).join('');
const addr = (n: number) => n.toString(16).padStart(8, '0');

/** One row: its hex bytes, padded to a full row, and its printable characters. */
function row(b: Buffer): string {
  return `${hexBytes(b).padEnd(ROW * 3 - 1)}  |${ascii(b).padEnd(ROW)}|`;
}

/**
 * `data` as hexdump -C prints it, addresses starting at `base`: 16 bytes a row, a row
 * equal to the one before it shown once as `*`.
 */
export function hexdump(data: Buffer, base: number): string[] {
  const lines: string[] = [];
  let prev: Buffer | undefined;
  let starred = false;
  for (let o = 0; o < data.length; o += ROW) {
    const r = data.subarray(o, o + ROW);
    if (prev && r.length === ROW && r.equals(prev)) {
      if (!starred) lines.push('*');
      starred = true;
      continue;
    }
    starred = false;
    prev = r;
    lines.push(`${addr(base + o)}  ${row(r)}`);
  }
  lines.push(addr(base + data.length));
  return lines;
}

/** Rows of 16 bytes (hex) at A and B side by side, A on the left. */
export function sideBySide(rows: { offset: number; a: string; b: string }[]): string[] {
  return rows.map((r) => `${addr(r.offset)}  ${row(Buffer.from(r.a, 'hex'))}  ${row(Buffer.from(r.b, 'hex'))}`);
}
