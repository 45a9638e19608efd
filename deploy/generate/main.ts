/** `npm run dashboards`: writes the generated dashboard JSON and the chart's copy of the alert rules. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { generatedFiles } from './outputs.js';

const root = process.cwd();
for (const [path, content] of generatedFiles(root)) {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content);
  process.stdout.write(`wrote ${path}\n`);
}
