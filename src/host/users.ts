/** User names for the uids files are owned by, for messages ("owned by pollpray"). */
import { readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';

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

/**
 * The home directory, or undefined when there is none to use: no HOME and no passwd
 * entry (a container's `--user 54321`, where os.homedir() throws), or an empty or
 * relative HOME. Only what pollpray keeps for itself lives there (the config it looks
 * for, the early-connect cache), so a missing home costs nothing but those.
 */
export function homeDir(): string | undefined {
  try {
    const home = homedir();
    return home.startsWith('/') ? home : undefined;
  } catch {
    return undefined;
  }
}
