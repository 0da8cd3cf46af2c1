/** The restored VM's live screen: noVNC (bundled) on QEMU's VNC websocket, with keyboard and mouse. */
import RFB from '@novnc/novnc';
import type { VmInfo } from './types.js';

export class VmScreen {
  private rfb: RFB | undefined;
  private el: HTMLElement | undefined;

  /** Shows the VM's screen in `el`. */
  connect(el: HTMLElement, vm: VmInfo): void {
    this.disconnect();
    this.el = el;
    el.dataset.state = 'connecting';
    const rfb = new RFB(el, `ws://127.0.0.1:${vm.wsPort}`, { credentials: { password: vm.password } });
    rfb.scaleViewport = true;
    rfb.focusOnClick = true;
    rfb.addEventListener('connect', () => (el.dataset.state = 'connected'));
    rfb.addEventListener('disconnect', () => (el.dataset.state = 'disconnected'));
    this.rfb = rfb;
  }

  disconnect(): void {
    this.rfb?.disconnect();
    this.rfb = undefined;
    if (this.el) this.el.dataset.state = 'disconnected';
  }

  /** True when the VM's screen has the keyboard (keys go to the guest, not to the scrubber). */
  focused(): boolean {
    return !!this.el && this.el.contains(document.activeElement);
  }
}
