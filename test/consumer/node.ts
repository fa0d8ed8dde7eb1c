/**
 * The consumer app in Node: `node node.js train OUT` trains, saves and reloads, writing OUT.json and the model to
 * OUT.safetensors; `node node.js probe MODEL OUT` predicts with a model saved elsewhere (the browser's).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createEngine, saveTrainingCheckpoint, loadTrainingCheckpoint } from 'wgtrain';
import { probeSaved, trainSaveReload } from './common.js';

const [command, a, b] = process.argv.slice(2);
const engine = await createEngine({ log: false });
if (command === 'train') {
  const t = await trainSaveReload(engine);
  writeFileSync(`${a}.safetensors`, t.bytes);
  // The Node-only file helpers read the same bytes.
  const fromFile = await loadTrainingCheckpoint(`${a}.safetensors`);
  await saveTrainingCheckpoint(`${a}.copy.safetensors`, fromFile);
  writeFileSync(`${a}.json`, JSON.stringify({ ...t, bytes: t.bytes.length, fileStep: fromFile.position.step }));
} else if (command === 'probe') {
  writeFileSync(b!, JSON.stringify(await probeSaved(engine, new Uint8Array(readFileSync(a!)))));
} else {
  throw new Error(`usage: node node.js train OUT | probe MODEL OUT (got ${command})`);
}
engine.destroy();
