import { Flags } from '@oclif/core';
import { TtjCommand } from '../../cli/base-command.js';
import { generateKeyFiles, type GeneratedKey } from '../../journal/signing-key.js';

export default class KeyGenerate extends TtjCommand<GeneratedKey> {
  static override summary = 'Make an Ed25519 key pair to sign journals with (--sign-with) and check them by (verify --trust).';
  static override description = 'Writes the private key to --out (PEM, mode 0600) and the public key to --out.pub (PEM); never overwrites a file. Prints the public key fingerprint (SHA-256 of its DER).';
  static override examples = ['<%= config.bin %> key generate --out custody.key', '<%= config.bin %> key generate --out custody.key --json'];
  static override flags = { out: Flags.string({ description: 'private key file to write (the public key goes to OUT.pub)', required: true }) };

  async run(): Promise<GeneratedKey> {
    const { flags } = await this.parse(KeyGenerate);
    const k = await generateKeyFiles(flags.out);
    this.log(`private key ${k.privateKey}, public key ${k.publicKey}, fingerprint ${k.fingerprint}`);
    return k;
  }
}
