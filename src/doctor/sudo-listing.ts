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

/** Whether each entry that names exactly `command` (escaped words) lets it run without a password. */
function exactRules(listing: SudoListing, command: string): boolean[] {
  return listing.entries.flatMap((e) => {
    const entryNoAuth = e.options.includes('!authenticate');
    return e.commands.flatMap((c) => {
      const tagged = /^((?:[A-Z_]+:\s*)*)(.*)$/.exec(c);
      const tags = tagged?.[1] ?? '';
      const cmd = tagged?.[2] ?? c;
      if (cmd !== command) return [];
      if (/\bPASSWD:/.test(tags.replace(/NOPASSWD:/g, ''))) return [false];
      return [entryNoAuth || tags.includes('NOPASSWD:')];
    });
  });
}

/** `command` as sudoers writes it (escaped words). A per-command NOPASSWD: tag counts too. */
export function passwordless(listing: SudoListing, command: string): boolean {
  return listing.defaultsNoAuth || exactRules(listing, command).some(Boolean);
}

/**
 * A rule names exactly `command` and wants a password, and none lets it run without:
 * the usual mistake of a sudoers line that forgot NOPASSWD. (A wildcard rule is not
 * judged: sudo's own matching decides those, so doctor only warns.)
 */
export function needsPassword(listing: SudoListing, command: string): boolean {
  const rules = exactRules(listing, command);
  return !listing.defaultsNoAuth && rules.length > 0 && !rules.some(Boolean);
}
