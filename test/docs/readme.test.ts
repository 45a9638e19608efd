import { readFileSync } from 'node:fs';
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
