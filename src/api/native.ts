/**
 * `ttj/native`: the native addon's page scanner and hashing (with TypeScript fallbacks
 * that give the same answers).
 * @packageDocumentation
 */
export { scanPages, scanPagesAsync, sha256Pages, sha256PagesAsync, sha256Ranges, sha256BuffersAsync, gatherPages, nativeInfo, type ScanResult, type NativeInfo } from '../native/index.js';
