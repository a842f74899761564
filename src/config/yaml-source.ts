/**
 * The YAML side of config loading: parse once with positions kept, so every problem
 * found later (by the schema or a cross-field rule) can name the line it is on.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';

export type KeyPath = readonly (string | number)[];

export interface SyntaxProblem {
  line: number;
  message: string;
}

export interface YamlSource {
  /** The plain data (undefined for an empty file); only meaningful without syntax problems. */
  data: unknown;
  /** Whether the document has any content (an empty or comment-only file has none). */
  empty: boolean;
  syntax: SyntaxProblem[];
  /**
   * The 1-based line of the key (`at: 'key'`) or value at `path`. A path that does not
   * exist (a missing required key) gives the line of its nearest existing ancestor.
   */
  lineOf(path: KeyPath, at?: 'key' | 'value'): number;
}

export function parseYamlSource(text: string): YamlSource {
  const lineCounter = new LineCounter();
  // prettyErrors off: the message stays one sentence; the line comes from the position.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const line = (offset: number | undefined): number => (offset === undefined ? 1 : lineCounter.linePos(offset).line);
  const syntax = doc.errors.map((err) => ({ line: line(err.pos[0]), message: err.message.split('\n')[0] ?? err.message }));
  const empty = doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null);

  return {
    data: syntax.length === 0 && !empty ? doc.toJS({ maxAliasCount: 100 }) : undefined,
    empty,
    syntax,
    lineOf(path, at = 'value') {
      return line(locate(doc, path, at));
    },
  };
}

function locate(doc: Document, path: KeyPath, at: 'key' | 'value'): number | undefined {
  let node: unknown = doc.contents;
  let offset = startOf(node) ?? 0;
  let ownerKey: number | undefined;
  for (const [i, segment] of path.entries()) {
    const last = i === path.length - 1;
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(segment));
      // A missing key belongs to the mapping that lacks it: point at that mapping's own key.
      if (!pair) return ownerKey ?? offset;
      const keyStart = startOf(pair.key);
      if (last && at === 'key') return keyStart ?? offset;
      node = pair.value;
      ownerKey = keyStart;
      // `ssh:` with nothing after it has no value node: point at the key.
      offset = startOf(node) ?? keyStart ?? offset;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      if (item === undefined) return offset;
      node = item;
      ownerKey = startOf(node);
      offset = startOf(node) ?? offset;
    } else {
      return offset;
    }
  }
  return offset;
}

function startOf(node: unknown): number | undefined {
  return node !== null && typeof node === 'object' && 'range' in node ? (node as Node).range?.[0] : undefined;
}
