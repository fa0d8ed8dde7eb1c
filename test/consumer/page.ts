/** The consumer app's page: trains here and in a dedicated Worker, keeps models in IndexedDB, offers a download. */
import { ModelStore, createEngine, downloadBytes } from 'wgtrain';
import { probeSaved, trainSaveReload, type Trained } from './common.js';

interface PageResult {
  page: Omit<Trained, 'bytes'> & { bytes: number[] };
  worker: Omit<Trained, 'bytes'> & { bytes: number[] };
  stored: { keys: string[]; sizes: number[]; probe: number[] };
  fromNode: number[] | null;
}

function plain(t: Trained): PageResult['page'] {
  return { ...t, bytes: [...t.bytes] };
}

function inWorker(): Promise<Trained> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    worker.onmessage = (e: MessageEvent<{ ok: true; trained: Trained } | { ok: false; error: string }>) => {
      worker.terminate();
      if (e.data.ok) resolve(e.data.trained);
      else reject(new Error(`in the worker: ${e.data.error}`));
    };
    worker.onerror = (e) => reject(new Error(`worker failed to load or run: ${e.message}`));
  });
}

async function main(): Promise<PageResult> {
  const engine = await createEngine();
  const page = await trainSaveReload(engine);
  const worker = await inWorker();
  // Models kept across reloads: what the worker stored, and this page's.
  const store = await ModelStore.open('wgtrain-consumer');
  await store.put('page', page.bytes, { accuracy: page.accuracy });
  const list = await store.list();
  const probe = await probeSaved(engine, await store.get('worker'));
  store.close();
  downloadBytes(page.bytes, 'spirals.safetensors');
  const nodeBytes = await fetch('./node-model.safetensors').then((r) => (r.ok ? r.arrayBuffer() : null));
  const fromNode = nodeBytes ? await probeSaved(engine, new Uint8Array(nodeBytes)) : null;
  engine.destroy();
  return {
    page: plain(page),
    worker: plain(worker),
    stored: { keys: list.map((m) => m.key), sizes: list.map((m) => m.bytes), probe },
    fromNode,
  };
}

(window as unknown as { result: Promise<unknown> }).result = main().catch((e: Error) => ({ error: `${e.name}: ${e.message}` }));
