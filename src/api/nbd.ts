/**
 * `ttj/nbd`: serving a journal's disks over NBD (every write journaled before it is
 * acknowledged, or a past point read-only) and the NBD server they run on.
 * @packageDocumentation
 */
export { serveDisk, type ServeDiskOptions, type ServedDisk } from '../replay/serve-disk.js';
export { JournalBlockDevice } from '../capture/journal-block-device.js';
export { startNbdServer, NbdServer, FileBlockDevice, type BlockDevice, type NbdServerOptions, type FileBlockDeviceOptions } from '../capture/nbd/index.js';
export type { NbdServerEvents, NbdConnectionEvent, NbdNegotiatedEvent, NbdDisconnectEvent, NbdRequestInfo, SessionEnd } from '../capture/nbd/index.js';
