import { describe, expect, it } from 'vitest';
import { cronLine, everyToCron, findLine, withLine, withoutLine } from '../../src/schedule/crontab.js';
import { UsageError } from '../../src/errors.js';

const input = { schedule: '*/5 * * * *', node: '/usr/bin/node', bin: '/opt/pollpray/bin/pollpray.js', configFile: '/etc/pollpray/config.yaml', logDir: '/var/log/pollpray' };

describe('crontab line', () => {
  it.each([
    ['1m', '* * * * *'],
    ['5m', '*/5 * * * *'],
    ['30m', '*/30 * * * *'],
    ['60m', '0 * * * *'],
    ['1h', '0 * * * *'],
    ['6h', '0 */6 * * *'],
    ['24h', '0 0 * * *'],
  ])('--every %s is %s', (every, expected) => expect(everyToCron(every)).toBe(expected));

  it.each(['7m', '90s', '5h', '30s', 'often'])('--every %s is refused', (every) => expect(() => everyToCron(every)).toThrow(UsageError));

  it('uses absolute paths, appends stdout to cron.log and leaves stderr to cron mail', () => {
    expect(cronLine(input)).toBe(
      '*/5 * * * * PATH=/usr/local/bin:/usr/bin:/bin /usr/bin/node /opt/pollpray/bin/pollpray.js run --config /etc/pollpray/config.yaml >> /var/log/pollpray/cron.log # pollpray-managed: /etc/pollpray/config.yaml',
    );
  });

  it('quotes paths for the shell and escapes % (a newline to cron)', () => {
    const line = cronLine({ ...input, configFile: '/srv/my app/100%.yaml' });
    expect(line).toContain("--config '/srv/my app/100\\%.yaml'");
  });

  it('refuses a six-field (seconds) schedule: crontab has no seconds', () => {
    expect(() => cronLine({ ...input, schedule: '*/10 * * * * *' })).toThrow(/crontab needs 5/);
  });

  it('installing twice leaves one line; other lines and other configs stay', () => {
    const other = cronLine({ ...input, configFile: '/etc/pollpray/other.yaml' });
    const start = `MAILTO=me\n0 1 * * * backup\n${other}\n`;
    const once = withLine(start, cronLine(input), input.configFile);
    const twice = withLine(once, cronLine({ ...input, schedule: '*/10 * * * *' }), input.configFile);
    expect(twice).toBe(`MAILTO=me\n0 1 * * * backup\n${other}\n${cronLine({ ...input, schedule: '*/10 * * * *' })}\n`);
    expect(findLine(twice, input.configFile)).toMatch(/^\*\/10 /);
    expect(withoutLine(twice, input.configFile)).toBe(start);
    expect(withLine('', cronLine(input), input.configFile)).toBe(`${cronLine(input)}\n`);
  });
});
