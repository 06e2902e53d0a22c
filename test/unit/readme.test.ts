import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { LAKE_COLUMNS } from '../../lib/lake/schema';

const root = path.join(__dirname, '..', '..');
const read = (file: string): string => readFileSync(path.join(root, file), 'utf-8');

/** README.md and every page under docs/: the files whose links must resolve. */
const markdownFiles = (): string[] => [
  'README.md',
  ...readdirSync(path.join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** The text outside fenced code blocks and inline code, where links are links. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');
}

/** GitHub's heading anchor: lower case, punctuation dropped (but - and _), spaces to -. */
function slug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M}_\- ]/gu, '')
    .replace(/ /g, '-');
}

/** Every heading's anchor in a markdown file, with GitHub's -1, -2 suffixes for repeats. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  const withoutFences = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const match of withoutFences.matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const base = slug(match[1] as string);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

/** Relative links (and images) of a markdown file: [text](target), without URLs. */
function relativeLinks(markdown: string): string[] {
  return [...prose(markdown).matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)]
    .map((m) => m[1] as string)
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

/** What is wrong with one link from `from` (a path below the root), or undefined. */
function brokenLink(from: string, target: string): string | undefined {
  const [file, anchor] = target.split('#', 2) as [string, string | undefined];
  const resolved = file === '' ? from : path.posix.normalize(path.posix.join(path.posix.dirname(from), file));
  const absolute = path.join(root, resolved);
  if (!existsSync(absolute)) {
    return `${from}: ${target} (no file ${resolved})`;
  }
  if (anchor === undefined) return undefined;
  if (!resolved.endsWith('.md') || statSync(absolute).isDirectory()) {
    return `${from}: ${target} (an anchor into a file that is not markdown)`;
  }
  return anchors(read(resolved)).has(decodeURIComponent(anchor))
    ? undefined
    : `${from}: ${target} (no heading #${anchor} in ${resolved})`;
}

/** Commands the README shows, in order: fenced shell lines and inline code that runs something. */
function commandsShown(markdown: string): string[] {
  const commands: { at: number; text: string }[] = [];
  for (const block of markdown.matchAll(/^```(bash|sh|shell|console)[ \t]*\n([\s\S]*?)^```/gm)) {
    const lines = (block[2] as string).split('\n');
    let offset = (block.index ?? 0) + (block[0].indexOf('\n') + 1);
    for (const line of lines) {
      const text = line.replace(/\s+#.*$/, '').trim();
      if (text && !text.startsWith('#')) commands.push({ at: offset, text });
      offset += line.length + 1;
    }
  }
  const withoutFences = markdown.replace(/^```[^\n]*\n[\s\S]*?^```/gm, (block) => ' '.repeat(block.length));
  for (const code of withoutFences.matchAll(/`([^`\n]+)`/g)) {
    const text = (code[1] as string).trim();
    if (/^(npm|npx|node|tsx|set|cd|git|java|mvn|cfn-lint|aws)\s/.test(text)) {
      commands.push({ at: code.index ?? 0, text });
    }
  }
  return commands.sort((a, b) => a.at - b.at).map((c) => c.text);
}

describe('README', () => {
  const readme = read('README.md');

  it('is the front door: at most 250 lines', () => {
    expect(readme.split('\n').length).toBeLessThanOrEqual(250);
  });

  it('shows the two commands before any other', () => {
    expect(commandsShown(readme).slice(0, 2)).toEqual(['npm ci && npm run demo', 'npm ci && npm test']);
  });
});

describe('docs/lake.md', () => {
  it('documents the lake schema exactly as lib/lake/schema.ts defines it', () => {
    const page = read('docs/lake.md');
    const block = page.split('<!-- schema:start')[1]?.split('<!-- schema:end')[0] ?? '';
    const rows = block
      .split('\n')
      .filter((l) => l.startsWith('|') && !/^\|\s*column\b/.test(l) && !/^\|\s*-/.test(l))
      .map((l) =>
        l
          .split('|')
          .map((c) => c.trim())
          .slice(1, 5),
      );
    expect(rows).toEqual(LAKE_COLUMNS.map((c) => [c.name, c.type, c.nullable ? 'yes' : 'no', c.description]));
  });
});

describe('docs/configuration.md', () => {
  it('documents every environment variable lib/config.ts and lib/ read', () => {
    const config = read('lib/config.ts');
    const variables = new Set([
      // required(env, 'X'), integer(\n env,\n 'X', ...), env.X, env['X']
      ...[...config.matchAll(/\(\s*env,\s*'([A-Z][A-Z0-9_]+)'/g)].map((m) => m[1] as string),
      ...[...config.matchAll(/\benv(?:\.|\[')([A-Z][A-Z0-9_]+)/g)].map((m) => m[1] as string),
      ...[...read('lib/observability/telemetry.ts').matchAll(/process\.env\.([A-Z][A-Z0-9_]+)/g)].map(
        (m) => m[1] as string,
      ),
    ]);
    expect(variables.size).toBeGreaterThan(60);
    const page = read('docs/configuration.md');
    const missing = [...variables].filter((v) => !page.includes(`\`${v}\``));
    expect(missing).toEqual([]);
  });
});

describe('links in README.md and docs/', () => {
  it('finds headings by GitHub anchor', () => {
    expect(slug('With the Iceberg table (`LAKE_FORMAT=iceberg`)')).toBe(
      'with-the-iceberg-table-lake_formaticeberg',
    );
    expect(slug('Sample events and local invocation')).toBe('sample-events-and-local-invocation');
    expect(slug('2. Reprocess')).toBe('2-reprocess');
    expect([...anchors('# A\n## B\n```\n# not a heading\n```\n## B\n')]).toEqual(['a', 'b', 'b-1']);
  });

  it('points every relative link at an existing file and heading', () => {
    const files = markdownFiles();
    expect(files.length).toBeGreaterThan(10);
    const links = files.flatMap((file) => relativeLinks(read(file)).map((target) => ({ file, target })));
    expect(links.length).toBeGreaterThan(50);
    const broken = links.map(({ file, target }) => brokenLink(file, target)).filter((b) => b !== undefined);
    expect(broken).toEqual([]);
  });
});
