/**
 * A strict parser of the Prometheus text exposition format 0.0.4 (what node_exporter's
 * textfile collector reads), for tests. Written here rather than taken from npm: the
 * parsers there are lenient (they accept what expfmt rejects) and unmaintained; this one
 * throws on everything expfmt would refuse and a bit more (blank lines, a missing final
 * newline, timestamps, which the textfile collector rejects).
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  help?: string;
  type: string;
  samples: Sample[];
}

const METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(text: string, line: number): number {
  if (text === 'NaN') return NaN;
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (!/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(text)) throw new Error(`line ${line}: bad value "${text}"`);
  return Number(text);
}

function parseLabels(text: string, line: number): [Record<string, string>, string] {
  const labels: Record<string, string> = {};
  let i = 0;
  if (text[i] !== '{') return [labels, text];
  i++;
  while (text[i] !== '}') {
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new Error(`line ${line}: label without "="`);
    const name = text.slice(i, eq);
    if (!LABEL.test(name) || name.startsWith('__')) throw new Error(`line ${line}: bad label name "${name}"`);
    if (name in labels) throw new Error(`line ${line}: duplicate label "${name}"`);
    if (text[eq + 1] !== '"') throw new Error(`line ${line}: label value must be quoted`);
    let value = '';
    let j = eq + 2;
    for (;;) {
      const c = text[j];
      if (c === undefined) throw new Error(`line ${line}: unterminated label value`);
      if (c === '"') break;
      if (c === '\\') {
        const e = text[j + 1];
        if (e === '\\') value += '\\';
        else if (e === '"') value += '"';
        else if (e === 'n') value += '\n';
        else throw new Error(`line ${line}: bad escape \\${e ?? ''}`);
        j += 2;
        continue;
      }
      value += c;
      j++;
    }
    labels[name] = value;
    i = j + 1;
    if (text[i] === ',') i++;
    else if (text[i] !== '}') throw new Error(`line ${line}: expected "," or "}" after a label`);
  }
  return [labels, text.slice(i + 1)];
}

export function parsePromText(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('the file must end with a newline');
  const families = new Map<string, Family>();
  const series = new Set<string>();
  let current: string | undefined;
  const open = (name: string, line: number): Family => {
    let f = families.get(name);
    if (f && current !== name) throw new Error(`line ${line}: samples of ${name} are not contiguous`);
    if (!f) {
      f = { name, type: 'untyped', samples: [] };
      families.set(name, f);
    }
    current = name;
    return f;
  };
  text.slice(0, -1).split('\n').forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') throw new Error(`line ${line}: blank line`);
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(raw);
    if (meta) {
      const [, kind, name = '', rest = ''] = meta;
      if (!METRIC.test(name)) throw new Error(`line ${line}: bad metric name "${name}"`);
      const known = families.get(name);
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`line ${line}: unknown type "${rest}"`);
        if (known && (known.samples.length > 0 || known.type !== 'untyped')) throw new Error(`line ${line}: TYPE for ${name} after its samples or twice`);
        open(name, line).type = rest;
      } else {
        if (known?.help !== undefined) throw new Error(`line ${line}: second HELP for ${name}`);
        open(name, line).help = rest;
      }
      return;
    }
    if (raw.startsWith('#')) return; // a plain comment
    const nameMatch = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(.*)$/.exec(raw);
    if (!nameMatch) throw new Error(`line ${line}: not a sample: ${raw}`);
    const [, name = '', after = ''] = nameMatch;
    const [labels, rest] = parseLabels(after, line);
    const parts = rest.trim().split(/\s+/);
    if (!rest.startsWith(' ') || parts.length !== 1) throw new Error(`line ${line}: expected exactly one value (no timestamp) after the labels`);
    const value = parseValue(parts[0] ?? '', line);
    const family = open(name, line);
    if (family.type === 'counter' && !(value >= 0)) throw new Error(`line ${line}: counter ${name} is negative`);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (series.has(key)) throw new Error(`line ${line}: duplicate series ${key}`);
    series.add(key);
    family.samples.push({ name, labels, value });
  });
  return families;
}
