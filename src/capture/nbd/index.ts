export type { BlockDevice } from './block-device.js';
export { FileBlockDevice, type FileBlockDeviceOptions } from './file-block-device.js';
export { NbdServer, startNbdServer, type NbdServerOptions, type NbdServerEvents, type NbdConnectionEvent, type NbdNegotiatedEvent, type NbdDisconnectEvent } from './server.js';
export type { NbdRequestInfo, SessionEnd } from './transmission.js';
