/**
 * `npm run docs`: regenerates the configuration table of README.md from the convict schema, so the
 * README never drifts from the settings the gateway actually accepts (test/docs/readme.test.ts checks).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { generateConfigTable } from '../config.js';

export const START_MARKER = '<!-- config-table:start -->';
export const END_MARKER = '<!-- config-table:end -->';

/** README text with the table between the markers replaced by the current one. */
export function withConfigTable(readme: string): string {
  const start = readme.indexOf(START_MARKER);
  const end = readme.indexOf(END_MARKER);
  if (start < 0 || end < start) throw new Error('README.md lacks the config-table markers');
  return `${readme.slice(0, start + START_MARKER.length)}\n${generateConfigTable().trim()}\n${readme.slice(end)}`;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/dist\//, 'dist/'))) {
  const path = new URL('../../../README.md', import.meta.url);
  writeFileSync(path, withConfigTable(readFileSync(path, 'utf8')));
  console.log('README.md configuration table updated');
}
