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

/** The last `requiretty` / `!requiretty` among comma-separated Defaults entries, if any. */
function lastTty(entries: string, current: boolean): boolean {
  let tty = current;
  for (const entry of entries.split(',').map((e) => e.trim())) {
    if (entry === 'requiretty') tty = true;
    else if (entry === '!requiretty') tty = false;
  }
  return tty;
}

/** `<list> <entries>` of one binding: the entries are the comma-separated words at its end. */
const BINDING = /^(.*?)\s+(!?\w+(?:=\S*)?(?:,\s*!?\w+(?:=\S*)?)*)\s*$/s;

/**
 * Whether `sudo -n <argv>` is refused for want of a terminal (`Defaults requiretty`), read
 * from the Defaults of `sudo -n -ll`: `sudo -l` itself needs no terminal, so it says the
 * command is allowed while the run's `sudo -n` fails. sudo applies the matching Defaults
 * (global, host, user), then those for the runas user (root), then those for the command
 * (`Defaults!<cmnd>`, a bare path matching any arguments), each later one winning.
 * `command` is argv as sudoers writes it (escaped words).
 */
export function requiresTty(text: string, argv: readonly string[], command: string): boolean {
  const head = text.split(/^User .* may run/m)[0] ?? '';
  const [matching = '', specific = ''] = head.split(/^Runas and Command-specific defaults for .*:\s*$/m);
  let tty = lastTty(matching.replace(/^Matching Defaults entries for .*:\s*$/m, '').replace(/\n/g, ','), false);
  // One binding per `Defaults>` / `Defaults!` line; sudo wraps a long one onto the next lines.
  const bindings: Array<{ kind: string; text: string }> = [];
  for (const raw of specific.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const start = /^Defaults([>!])(.*)$/.exec(line);
    const last = bindings[bindings.length - 1];
    if (start) bindings.push({ kind: start[1] ?? '', text: start[2] ?? '' });
    else if (last) last.text += ` ${line}`;
  }
  const parsed = bindings.flatMap((b) => {
    const m = BINDING.exec(b.text.trim());
    return m ? [{ kind: b.kind, list: (m[1] ?? '').split(/,\s*/).map((x) => x.trim()), entries: m[2] ?? '' }] : [];
  });
  for (const b of parsed) if (b.kind === '>' && b.list.some((u) => u === 'root' || u === 'ALL')) tty = lastTty(b.entries, tty);
  for (const b of parsed) if (b.kind === '!' && b.list.some((c) => c === 'ALL' || c === argv[0] || c === command)) tty = lastTty(b.entries, tty);
  return tty;
}
