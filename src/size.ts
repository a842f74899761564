/**
 * Sizes in config: an integer and one unit, e.g. `500MB`, `2GB`. Units are binary
 * (1KB = 1024 bytes), as `df -h` shows them, so a threshold compares with what an
 * operator reads on the host.
 */
const UNIT_BYTES = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 } as const;
export const SIZE_PATTERN = /^(\d+)(B|KB|MB|GB|TB)$/;

export function parseSize(text: string): number | undefined {
  const match = SIZE_PATTERN.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * UNIT_BYTES[match[2] as keyof typeof UNIT_BYTES];
}

export function formatSize(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'] as const;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)}${units[unit]}`;
}
