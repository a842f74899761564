/**
 * Reads `sudo -n -ll` (the long listing) to tell whether a command is allowed without
 * a password. `sudo -n -l <cmd>` alone says "allowed" for a rule without NOPASSWD too,
 * and that rule still makes `sudo -n` fail, so doctor needs the entry's options.
 */
export interface SudoEntry {
  options: string[];
  commands: string[];
}

export interface SudoListing {
  /** `!authenticate` among the matching Defaults: nothing needs a password. */
  defaultsNoAuth: boolean;
  entries: SudoEntry[];
}

export function parseSudoLongListing(text: string): SudoListing {
  const [defaults = '', ...blocks] = text.split(/^\s*Sudoers entry:\s*$/m);
  const entries = blocks.map((block): SudoEntry => {
    const options: string[] = [];
    const commands: string[] = [];
    let inCommands = false;
    for (const raw of block.split('\n')) {
      const line = raw.trim();
      if (!line) continue;
      if (/^Commands:$/.test(line)) {
        inCommands = true;
        continue;
      }
      const option = /^Options:\s*(.*)$/.exec(line);
      if (option && !inCommands) options.push(...(option[1] ?? '').split(/,\s*/).filter(Boolean));
      else if (inCommands && raw.startsWith('\t')) commands.push(line);
      else if (/^[A-Za-z]+:/.test(line)) inCommands = false;
    }
    return { options, commands };
  });
  return { defaultsNoAuth: /(^|[\s,])!authenticate\b/m.test(defaults.split(/^User .* may run/m)[0] ?? ''), entries };
}

/** `command` as sudoers writes it (escaped words). A per-command NOPASSWD: tag counts too. */
export function passwordless(listing: SudoListing, command: string): boolean {
  if (listing.defaultsNoAuth) return true;
  return listing.entries.some((e) => {
    const entryNoAuth = e.options.includes('!authenticate');
    return e.commands.some((c) => {
      const tagged = /^((?:[A-Z_]+:\s*)*)(.*)$/.exec(c);
      const tags = tagged?.[1] ?? '';
      const cmd = tagged?.[2] ?? c;
      if (cmd !== command) return false;
      if (/\bPASSWD:/.test(tags.replace(/NOPASSWD:/g, ''))) return false;
      return entryNoAuth || tags.includes('NOPASSWD:');
    });
  });
}
