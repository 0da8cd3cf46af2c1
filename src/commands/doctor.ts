import { TtjCommand } from '../cli/base-command.js';
import { doctor, type DoctorReport } from '../doctor.js';

export default class Doctor extends TtjCommand<DoctorReport> {
  static override summary = 'Report what ttj can use here: QEMU, KVM, the native addon, versions.';
  static override examples = ['<%= config.bin %> doctor', '<%= config.bin %> doctor --json'];

  async run(): Promise<DoctorReport> {
    await this.parse(Doctor);
    const r = await doctor();
    for (const [k, v] of Object.entries(r)) this.log(`${k.padEnd(8)} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
    return r;
  }
}
