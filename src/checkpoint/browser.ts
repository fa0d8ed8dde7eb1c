/**
 * Keeping checkpoint bytes in a browser: a download for the user (`downloadBytes`, pages only), and `ModelStore`, a
 * named collection in IndexedDB that pages and workers of the same origin share and that survives reloads. What is
 * stored is the bytes `Trainer.save()` / `runner.save()` return (a safetensors file, checksummed): they load back with
 * `loadTrainer(bytes, { engine })` or `trainer.load(bytes)`, here or in Node.
 *
 *   const store = await ModelStore.open();                      // IndexedDB database 'wgtrain'
 *   await store.put('spirals', await trainer.save(), { accuracy: 0.97 });
 *   for (const m of await store.list()) console.log(m.key, m.bytes, m.savedAt, m.meta);
 *   const again = await loadTrainer(await store.get('spirals'), { engine });
 */

/** Offers `bytes` to the user as a file download (a page with a document; in a Worker, postMessage the bytes out). */
export function downloadBytes(bytes: Uint8Array, filename = 'model.safetensors'): void {
  const doc = (globalThis as { document?: Document }).document;
  if (!doc) {
    throw new Error(
      'downloadBytes needs a page (a document): in a Worker, send the bytes to the page with postMessage(bytes, [bytes.buffer]) ' +
        'and call downloadBytes there, or keep them in a ModelStore (IndexedDB works in workers)',
    );
  }
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
  try {
    const a = doc.createElement('a');
    a.href = url;
    a.download = filename;
    a.style.display = 'none';
    doc.body.appendChild(a);
    a.click();
    a.remove();
  } finally {
    // The click has started the download; revoking on the next turn keeps the URL valid long enough for every browser.
    setTimeout(() => URL.revokeObjectURL(url), 0);
  }
}

/** One stored model as `list()` describes it (the bytes themselves come from `get`). */
export interface StoredModel {
  key: string;
  /** Size of the checkpoint in bytes. */
  bytes: number;
  /** When it was put, ISO 8601. */
  savedAt: string;
  /** What the caller passed to `put` (JSON-like values: accuracy, a description, ...). */
  meta: Record<string, unknown>;
}

const MODELS = 'models';
const INDEX = 'index';

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed'));
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted (out of storage quota?)'));
  });
}

/**
 * Models by key in an IndexedDB database (default 'wgtrain'): the bytes in one object store, a small description in
 * another, written in one transaction (a put is all or nothing), so `list()` never reads the bytes.
 */
export class ModelStore {
  private constructor(
    private readonly db: IDBDatabase,
    readonly name: string,
  ) {}

  /** Opens (creating it the first time) the IndexedDB database `name`. */
  static async open(name = 'wgtrain'): Promise<ModelStore> {
    const idb = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
    if (!idb) throw new Error('ModelStore needs IndexedDB (browsers, in pages and workers); in Node, write the bytes to a file (writeFileAtomic)');
    const open = idb.open(name, 1);
    open.onupgradeneeded = () => {
      open.result.createObjectStore(MODELS);
      open.result.createObjectStore(INDEX);
    };
    const blocked = new Promise<never>((_, reject) => {
      open.onblocked = () => reject(new Error(`ModelStore: the IndexedDB database '${name}' is held open at an older version by another tab`));
    });
    return new ModelStore(await Promise.race([request(open), blocked]), name);
  }

  /** Stores `bytes` under `key`, replacing what was there. */
  async put(key: string, bytes: Uint8Array, meta: Record<string, unknown> = {}): Promise<StoredModel> {
    checkKey(key);
    if (!(bytes instanceof Uint8Array)) throw new TypeError(`ModelStore.put('${key}'): bytes must be a Uint8Array (from trainer.save())`);
    const entry: StoredModel = { key, bytes: bytes.length, savedAt: new Date().toISOString(), meta: { ...meta } };
    const tx = this.db.transaction([MODELS, INDEX], 'readwrite');
    // A copy of exactly these bytes (a view may sit inside a larger buffer).
    tx.objectStore(MODELS).put(bytes.slice().buffer, key);
    tx.objectStore(INDEX).put(entry, key);
    await done(tx);
    return entry;
  }

  /** The bytes stored under `key`; an error lists the keys there are when it is missing. */
  async get(key: string): Promise<Uint8Array> {
    checkKey(key);
    const tx = this.db.transaction(MODELS, 'readonly');
    const buffer = await request(tx.objectStore(MODELS).get(key) as IDBRequest<ArrayBuffer | undefined>);
    if (buffer === undefined) {
      const keys = (await this.list()).map((m) => m.key);
      throw new Error(`ModelStore '${this.name}': no model '${key}' (${keys.length ? `it has: ${keys.join(', ')}` : 'it is empty'})`);
    }
    return new Uint8Array(buffer);
  }

  /** Every stored model's description, by key order. */
  async list(): Promise<StoredModel[]> {
    const tx = this.db.transaction(INDEX, 'readonly');
    return request(tx.objectStore(INDEX).getAll() as IDBRequest<StoredModel[]>);
  }

  /** Removes `key` (nothing happens when it is absent). */
  async delete(key: string): Promise<void> {
    checkKey(key);
    const tx = this.db.transaction([MODELS, INDEX], 'readwrite');
    tx.objectStore(MODELS).delete(key);
    tx.objectStore(INDEX).delete(key);
    await done(tx);
  }

  close(): void {
    this.db.close();
  }
}

function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key === '') throw new TypeError(`ModelStore: a key must be a non-empty string, got ${JSON.stringify(key)}`);
}
