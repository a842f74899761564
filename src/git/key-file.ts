/**
 * Whether a deploy key file is fit for ssh, judged from its metadata alone (the key is
 * never read out). One verdict for `doctor` and `test-ssh`, following ssh's own rule:
 * ssh refuses a key its user owns when group or others may read it. A key another
 * local user could swap (owned by them, or in a directory they can write) fails, by
 * the rule `run` refuses on (src/config/file-trust.ts).
 */
import { accessSync, constants, statSync } from 'node:fs';
import { trustProblem } from '../config/file-trust.js';
import { shellQuote } from './ssh.js';

export interface KeyVerdict {
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  fix?: string;
}

export interface Runner {
  uid: number;
  user: string;
}

const mode4 = (mode: number) => (mode & 0o777).toString(8).padStart(4, '0');

/** `label` goes into the ssh-keygen comment of the fix that creates a missing key. */
export function judgeKeyFile(key: string, me: Runner, label = 'pollpray'): KeyVerdict {
  const q = shellQuote(key);
  let st;
  try {
    st = statSync(key);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT'
      ? { status: 'fail', detail: `${key} does not exist`, fix: `ssh-keygen -t ed25519 -N '' -C '${label}' -f ${q}, then add ${key}.pub to the repository as a read-only deploy key` }
      : { status: 'fail', detail: `${key} cannot be read by ${me.user} (${code ?? String(err)})`, fix: `chown ${me.user} ${q} && chmod 600 ${q}` };
  }
  if (!st.isFile()) return { status: 'fail', detail: `${key} is not a regular file`, fix: 'point ssh.key at the private key file' };
  const mine = st.uid === me.uid;
  const mode = mode4(st.mode);
  const own = mine ? `chmod 600 ${q}` : `chown ${me.user} ${q} && chmod 600 ${q}`;
  if ((st.mode & 0o007) !== 0) {
    return { status: 'fail', detail: `${key} is mode ${mode}: every local user can read the deploy key${mine ? ' (and ssh refuses it)' : ''}`, fix: own };
  }
  if (mine && (st.mode & 0o070) !== 0) {
    return { status: 'fail', detail: `${key} is mode ${mode}: too open, ssh refuses a private key that others can read`, fix: own };
  }
  try {
    accessSync(key, constants.R_OK);
  } catch {
    return { status: 'fail', detail: `${key} is not readable by ${me.user} (mode ${mode})`, fix: own };
  }
  // The rule run refuses on (src/config/file-trust.ts): the key, and every directory on its way, root's or ours alone.
  const untrusted = trustProblem(key, me, 'swap the deploy key');
  if (untrusted) return { status: 'fail', detail: untrusted.message, fix: untrusted.at === 'file' ? own : untrusted.fix };
  if (!mine) {
    return { status: 'ok', detail: `${key} is mode ${mode}, owned by root` };
  }
  return { status: 'ok', detail: `${key} is mode ${mode}, owned by ${me.user}` };
}
