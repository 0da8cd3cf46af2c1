import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { appendImages } from '../../src/journal/append-images.js';
import { fold } from '../../src/journal/fold.js';
import { log } from '../../src/journal/log.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { readElfCore } from '../../src/replay/export/elf-core-reader.js';
import { ELF } from '../../src/replay/export/elf-core-writer.js';
import { exportPoint } from '../../src/replay/export/export-point.js';
import { LIME_MAGIC } from '../../src/replay/export/lime-writer.js';
import { ffprobe, fileSha, qemuImgInfo, qemuImgSame, readelf, readLime } from '../helpers/export-checks.js';
import { dirty, memoryImage, png } from '../helpers/images.js';
import { useTmp } from '../helpers/tmp.js';
import { withJournal } from '../helpers/with-journal.js';

const PS = 4096;
const MEM_PAGES = 300;
const DISK_BYTES = 3 * 65536 + 4096 * 5; // a short last block

/** A journal of three epochs appended from plain images (memory, two disks, frames some 100 ms apart). */
async function plainJournal(dir: string, tmp: (n: string) => string): Promise<void> {
  const mem = memoryImage(MEM_PAGES, PS, 3);
  const disk = memoryImage(DISK_BYTES / PS, PS, 5);
  const w = await JournalWriter.openWriter(dir);
  try {
    for (let e = 0; e < 3; e++) {
      dirty(mem, PS, 20, e + 10);
      dirty(disk, PS, 4, e + 20);
      writeFileSync(tmp('mem.raw'), mem);
      writeFileSync(tmp('d0.img'), disk);
      writeFileSync(tmp('d1.img'), Buffer.alloc(65536, e + 1));
      const frames = [png(31, 17, e * 2), png(31, 17, e * 2 + 1)];
      await appendImages(w, {
        memory: tmp('mem.raw'),
        disks: [
          { name: 'd0', path: tmp('d0.img') },
          { name: 'd1', path: tmp('d1.img') },
        ],
        frames: [frames[0]!],
        label: `e${e}`,
      });
      await new Promise((r) => setTimeout(r, 120));
      await appendImages(w, { frames: [frames[1]!] });
      await new Promise((r) => setTimeout(r, 80));
    }
  } finally {
    await w.close();
  }
}

describe('export: a point in standard formats (journal of plain images)', function () {
  this.timeout(60000);
  const tmp = useTmp();
  let J: string;
  beforeEach(async () => {
    J = tmp.path('j');
    await plainJournal(J, (n) => tmp.path(n));
  });

  const foldAt = (at: string) => withJournal(J, (j) => fold(j, { at, out: tmp.path('fold') }));

  it('converts every disk to qcow2 (default), raw and vmdk: qemu-img says the format and compares equal to the fold', async () => {
    const f = await foldAt('epoch:1');
    for (const fmt of ['qcow2', 'raw', 'vmdk'] as const) {
      const out = tmp.path(`out-${fmt}`);
      const m = await exportPoint(J, { at: 'epoch:1', out, diskFormat: fmt === 'qcow2' ? undefined : fmt, memoryFormat: 'raw' });
      assert.deepEqual(
        m.disks.map((d) => [d.name, d.file, d.format]),
        [
          ['d0', `disks/d0.${fmt}`, fmt],
          ['d1', `disks/d1.${fmt}`, fmt],
        ],
      );
      for (const d of f.disks) {
        const file = join(out, 'disks', `${d.name}.${fmt}`);
        const info = qemuImgInfo(file);
        assert.equal(info.format, fmt);
        assert.equal(info['virtual-size'], d.size);
        assert.ok(qemuImgSame(join(tmp.path('fold'), d.file), 'raw', file, fmt), `${file} equals the folded ${d.name}`);
      }
      // The scratch fold is gone.
      assert.deepEqual(readdirSync(out).sort(), ['disks', 'manifest.json', 'memory.raw']);
    }
    // A different epoch's disk is a different image (the comparison can fail).
    await exportPoint(J, { at: 'epoch:0', out: tmp.path('e0'), memoryFormat: 'raw' });
    assert.equal(qemuImgSame(join(tmp.path('fold'), 'disks', 'd1.raw'), 'raw', tmp.path('e0', 'disks', 'd1.qcow2'), 'qcow2'), false);
  });

  it('writes a manifest that ties every file to the journal: SHA-256s, seq, epoch, state root and chain hash', async () => {
    const out = tmp.path('out');
    const m = await exportPoint(J, { at: 'head', out, memoryFormat: 'lime' });
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')), JSON.parse(JSON.stringify(m)));
    assert.deepEqual(m.files.map((f) => f.file).sort(), ['disks/d0.qcow2', 'disks/d1.qcow2', 'memory.lime']);
    for (const f of m.files) {
      assert.equal(f.sha256, fileSha(join(out, f.file)), f.file);
      assert.equal(f.size, statSync(join(out, f.file)).size);
    }
    const l = await withJournal(J, (j) => log(j));
    assert.equal(m.seq, l.head.seq);
    assert.equal(m.chainHash, l.head.hash, 'at the head the chain hash is the head hash');
    assert.equal(m.epoch, l.head.epoch);
    const e = l.epochs.find((x) => x.epoch === m.epoch)!;
    assert.equal(m.stateRoot, e.stateRoot);
    assert.equal(m.epochSeq, e.seq);
    assert.equal(m.time, e.time);
    // An earlier point: its own seq and chain hash (the hash of its event), not the head's.
    const m1 = await exportPoint(J, { at: 'epoch:1', out: tmp.path('o1'), memoryFormat: 'raw' });
    const e1 = l.epochs.find((x) => x.epoch === 1)!;
    assert.equal(m1.seq, e1.seq);
    assert.equal(m1.stateRoot, e1.stateRoot);
    assert.notEqual(m1.chainHash, l.head.hash);
    const next = await withJournal(J, (j) => j.event(e1.seq + 1));
    assert.equal(Buffer.from(next.prevHash).toString('hex'), m1.chainHash, 'the next event chains to it');
  });

  it('writes memory as raw, LiME and an ELF core whose PT_LOAD bytes are the folded memory', async () => {
    const f = await foldAt('epoch:2');
    const folded = readFileSync(join(tmp.path('fold'), 'memory.raw'));
    const raw = await exportPoint(J, { at: 'epoch:2', out: tmp.path('raw'), memoryFormat: 'raw' });
    assert.equal(raw.memory!.root, f.memory!.root);
    assert.ok(readFileSync(tmp.path('raw', 'memory.raw')).equals(folded));

    await exportPoint(J, { at: 'epoch:2', out: tmp.path('lime'), memoryFormat: 'lime' });
    const lime = readLime(tmp.path('lime', 'memory.lime'));
    assert.equal(lime.length, 1, 'plain images: one flat range');
    assert.deepEqual([lime[0]!.magic, lime[0]!.version, lime[0]!.start, lime[0]!.end], [LIME_MAGIC, 1, 0, folded.length - 1]);
    assert.ok(lime[0]!.data.equals(folded));

    const elf = await exportPoint(J, { at: 'epoch:2', out: tmp.path('elf') });
    assert.equal(elf.memory!.format, 'elf', 'ELF is the default');
    assert.equal(elf.memory!.cpuState, 'none', 'plain images have no CPU state');
    const file = tmp.path('elf', 'memory.elf');
    const text = readelf(file);
    assert.match(text, /Type:\s+CORE \(Core file\)/);
    assert.match(text, /Start of program headers:\s+64 \(bytes into file\)/);
    assert.match(text, /Class:\s+ELF64/);
    assert.doesNotMatch(text, /NT_PRSTATUS/);
    assert.match(text, /TTJ\s+0x[0-9a-f]+\s+Unknown note type: \(0x54544a31\)/);
    const core = await readElfCore(file);
    assert.equal(core.type, ELF.ET_CORE);
    assert.equal(core.phoff, 0x40);
    assert.deepEqual(
      core.segments.map((s) => s.type),
      [ELF.PT_NOTE, ELF.PT_LOAD],
    );
    const load = core.segments[1]!;
    assert.equal(load.offset % 4096, 0);
    assert.deepEqual([load.paddr, load.vaddr, load.filesz], [0, 0, folded.length]);
    assert.ok(
      readFileSync(file)
        .subarray(load.offset, load.offset + load.filesz)
        .equals(folded),
    );
    const note = JSON.parse(core.notes.find((n) => n.name === 'TTJ')!.desc.toString()) as { chainHash: string; seq: number };
    assert.equal(note.chainHash, elf.chainHash);
  });

  it('writes the frames of a span as mp4 and webm at their recorded times', async () => {
    const l = await withJournal(J, (j) => log(j));
    const span = (l.frames[4]!.timeUs - l.frames[1]!.timeUs) / 1e6;
    assert.ok(span > 0.3, `frames are apart in time (${span} s)`);
    for (const format of ['mp4', 'webm'] as const) {
      const out = tmp.path(format);
      const m = await exportPoint(J, { at: 'head', out, memoryFormat: 'raw', frames: { format, since: 'frame:1', until: 'frame:4' } });
      assert.deepEqual([m.frames!.firstFrame, m.frames!.lastFrame, m.frames!.count], [1, 4, 4]);
      const p = ffprobe(join(out, `frames.${format}`));
      assert.equal(p.codec, format === 'mp4' ? 'h264' : 'vp9');
      assert.equal(p.frames, 4, 'every frame once');
      // Shown until the next one; the last for a millisecond.
      assert.ok(Math.abs(p.duration - (span + 0.001)) <= 0.002, `duration ${p.duration} s for a span of ${span} s`);
      assert.ok(m.files.some((f) => f.file === `frames.${format}` && f.sha256 === fileSha(join(out, f.file))));
    }
    await assert.rejects(exportPoint(J, { at: 'head', out: tmp.path('none'), memoryFormat: 'raw', frames: { format: 'mp4', since: 'seq:0', until: 'seq:0' } }), (e) => isTtjError(e, ErrorCodes.POINT_NOT_FOUND));
  });

  it('refuses bad formats and points with stable codes, leaving no manifest', async () => {
    await assert.rejects(exportPoint(J, { at: 'head', out: tmp.path('x'), diskFormat: 'vdi' as never }), (e) => isTtjError(e, ErrorCodes.BAD_ARGUMENT));
    await assert.rejects(exportPoint(J, { at: 'head', out: tmp.path('x'), memoryFormat: 'core' as never }), (e) => isTtjError(e, ErrorCodes.BAD_ARGUMENT));
    await assert.rejects(exportPoint(J, { at: 'epoch:99', out: tmp.path('x') }), (e) => isTtjError(e, ErrorCodes.POINT_NOT_FOUND));
    await assert.rejects(exportPoint(J, { at: 'nonsense', out: tmp.path('x') }), (e) => isTtjError(e, ErrorCodes.BAD_POINT));
    assert.equal(existsSync(tmp.path('x', 'manifest.json')), false);
    assert.deepEqual(readdirSync(tmp.path('x')), ['disks'], 'no scratch left behind');
  });
});
