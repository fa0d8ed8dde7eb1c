/**
 * Writes test/fixtures/mlp-v1/ (see test/helpers/mlp-v1.ts for what it holds): the files were written by the
 * version before the layer-module redesign (issue 9, commit d4066a9, where this script held the same code inline);
 * later versions must reproduce golden.json and load checkpoint.safetensors (test/mlp-v1.test.ts).
 * Run: npx esbuild scripts/mlp_fixtures.ts --bundle --platform=node --format=esm --loader:.wgsl=text \
 *        --outfile=/tmp/mlp_fixtures.mjs && node /tmp/mlp_fixtures.mjs [--check]
 * With --check it compares byte for byte instead of writing (exit 1 on any difference).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { MLP_V1_DIR, checkpointBytes, goldenRecords } from '../test/helpers/mlp-v1.js';

const check = process.argv.includes('--check');
const files: Record<string, Uint8Array> = {
  'golden.json': new TextEncoder().encode(JSON.stringify(await goldenRecords(), null, 1) + '\n'),
  'checkpoint.safetensors': await checkpointBytes(),
};
let bad = 0;
for (const [name, bytes] of Object.entries(files)) {
  const path = `${MLP_V1_DIR}/${name}`;
  if (check) {
    const same = Buffer.compare(readFileSync(path), Buffer.from(bytes)) === 0;
    console.log(`${same ? 'same' : 'DIFFERENT'}: ${path}`);
    if (!same) bad++;
  } else {
    mkdirSync(MLP_V1_DIR, { recursive: true });
    writeFileSync(path, bytes);
    console.log(`wrote ${path} (${bytes.length} bytes)`);
  }
}
process.exit(bad ? 1 : 0);
