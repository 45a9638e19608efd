import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { withConfigTable } from '../../src/tools/update-readme.js';
import { ERROR_CLASSES } from '../../src/errors.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('carries the configuration table generated from the schema (run `npm run docs` after changing settings)', () => {
    expect(readme).toBe(withConfigTable(readme));
  });

  it('documents every error type the gateway can answer with', () => {
    for (const ErrorClass of ERROR_CLASSES) {
      const type = new ErrorClass('x').type;
      expect(readme, `README lacks ${type}`).toContain(`\`${type}\``);
    }
  });
});

describe('README code map (## Development)', () => {
  const root = new URL('../../', import.meta.url);
  const section = readme.slice(readme.indexOf('## Development'));
  const map = section.slice(section.indexOf('```\n') + 4, section.indexOf('\n```', section.indexOf('```\n') + 4));
  /** Entries: a path at the start of a line, with its indented continuation lines. */
  const entries = map.split(/\n(?=\S)/).map((text) => ({ dir: text.split(/\s/)[0]!, text }));
  /** Output of the bench, not in the repository. */
  const generated = ['bench/results/'];

  it('names only paths that exist', () => {
    const paths = [...map.matchAll(/(?<![\w/-])((?:src|test|bench|deploy|loadtest|docs|admin-ui)\/[\w./-]*)/g)].map((m) => m[1]!.replace(/[.,;:]$/, ''));
    expect(paths.length).toBeGreaterThan(10);
    for (const path of paths.filter((p) => !generated.includes(p))) {
      expect(existsSync(new URL(path, root)), `README code map names ${path}, which does not exist`).toBe(true);
    }
  });

  it('names only files that exist in the directory of their entry', () => {
    for (const { dir, text } of entries.filter((e) => e.dir.endsWith('/'))) {
      for (const [name] of text.slice(dir.length).matchAll(/(?<![\w/*.-])[\w-]+\.ts\b/g)) {
        expect(existsSync(new URL(`${dir}${name}`, root)), `README code map names ${dir}${name}, which does not exist`).toBe(true);
      }
    }
  });
});
