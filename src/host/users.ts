/** User names for the uids files are owned by, for messages ("owned by pollpray"). */
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';

export function currentUid(): number {
  return process.getuid?.() ?? userInfo().uid;
}

export function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return String(currentUid());
  }
}

/** The name of `uid` from /etc/passwd, or the number when it has none (a deleted user). */
export function userName(uid: number): string {
  if (uid === currentUid()) return currentUser();
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (name && Number(id) === uid) return name;
    }
  } catch {
    // no passwd file (a minimal container): the number will do
  }
  return String(uid);
}
