import { appendImages, Journal, JournalWriter, verify, type JournalCommit } from '../../src/index.js';

/** One checkpoint to back up: a memory image and a disk image (from any hypervisor). */
export interface Checkpoint {
  memory: string;
  disk: string;
  label?: string;
}

/**
 * Appends each checkpoint as an epoch while a reader reacts to every commit as it lands
 * (a real pipeline would ship `commit.fromSeq..commit.head.seq` off-site), then proves
 * the whole journal with a deep verify.
 */
export async function backupPipeline(journal: string, checkpoints: Checkpoint[], onCommit: (c: JournalCommit) => void): Promise<{ epochs: number; verified: boolean }> {
  const writer = await JournalWriter.openWriter(journal);
  const reader = await Journal.open(journal);
  const stop = new AbortController();
  let epochs = 0;
  const watching = (async () => {
    for await (const commit of reader.watch({ signal: stop.signal })) {
      onCommit(commit);
      epochs += commit.epochs.length;
      if (epochs === checkpoints.length) stop.abort();
    }
  })();
  try {
    for (const c of checkpoints) await appendImages(writer, { memory: c.memory, disks: [{ name: 'd0', path: c.disk }], label: c.label });
  } finally {
    await writer.close();
  }
  try {
    await watching;
    return { epochs, verified: (await verify(reader, { deep: true })).ok };
  } finally {
    await reader.close();
  }
}
