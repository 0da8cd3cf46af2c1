/** The part of noVNC's RFB client (@novnc/novnc, core/rfb.js) the page uses; the package ships no types. */
declare module '@novnc/novnc' {
  export default class RFB extends EventTarget {
    constructor(target: HTMLElement, url: string, options?: { credentials?: { password?: string }; shared?: boolean });
    scaleViewport: boolean;
    focusOnClick: boolean;
    disconnect(): void;
    focus(): void;
  }
}
