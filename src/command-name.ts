/** The command argv names (`help <command>` names it too), skipping the global options. */
export function commandName(argv: readonly string[]): string | undefined {
  for (let i = 2; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') return argv[i + 1];
    if (arg === '-c' || arg === '--config') {
      i++;
      continue;
    }
    if (arg.startsWith('-')) continue;
    if (arg === 'help') return argv[i + 1];
    return arg;
  }
  return undefined;
}

/** The value of the global `-c` / `--config` option as commander reads it (the last one wins), if any. */
export function configFlag(argv: readonly string[]): string | undefined {
  let value: string | undefined;
  for (let i = 2; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') break;
    if (arg === '-c' || arg === '--config') value = argv[++i];
    else if (arg.startsWith('--config=')) value = arg.slice('--config='.length);
    else if (arg.startsWith('-c') && !arg.startsWith('--') && arg.length > 2) value = arg.slice(2);
  }
  return value;
}
