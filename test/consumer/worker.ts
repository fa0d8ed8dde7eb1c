/** The consumer app's dedicated Worker: trains, saves, reloads, keeps its model in IndexedDB, posts the result. */
import { ModelStore, createEngine } from 'wgtrain';
import { trainSaveReload } from './common.js';

const scope = self as unknown as { postMessage(message: unknown, transfer?: Transferable[]): void };

try {
  const engine = await createEngine({ log: false });
  const trained = await trainSaveReload(engine);
  engine.destroy();
  const store = await ModelStore.open('wgtrain-consumer');
  await store.put('worker', trained.bytes, { accuracy: trained.accuracy });
  store.close();
  scope.postMessage({ ok: true, trained }, [trained.bytes.buffer]);
} catch (e) {
  scope.postMessage({ ok: false, error: `${(e as Error).name}: ${(e as Error).message}` });
}
