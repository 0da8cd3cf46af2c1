export type { BlockDevice } from './block-device.js';
export { FileBlockDevice, type FileBlockDeviceOptions } from './file-block-device.js';
export { NbdServer, startNbdServer, type NbdServerOptions, type NbdServerEvents, type NbdConnectionEvent, type NbdNegotiatedEvent, type NbdDisconnectEvent } from './server.js';
export { nbdErrnoFor, type NbdRequestInfo, type SessionEnd } from './transmission.js';

export * as nbdConstants from './constants.js';
