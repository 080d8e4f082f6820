// The model library in IndexedDB, used by the trainer's worker. Every failure rejects:
// a transaction that aborts (how Chrome reports a full disk or quota) or errors, a database
// that cannot be opened (private mode) or is blocked by an older tab.
//
// Stores:
//   models   { id, name, corpusId, corpusName, bytes, history, settings, step, perplexity, savedAt, workspace }
//   listing  the same without bytes and history, plus size: what the library lists, so listing
//            it never reads the weights (40 default-size models are ~1.2 GB)
//   corpora  { id, name, bytes }            (the built-in corpus is referenced, never stored)
//   meta     key -> value                   ('workspace': the runs open in the page, 'undo': the set before)
const DB = 'shige';
const VERSION = 3;
const STORES = ['models', 'listing', 'corpora', 'meta'];

/** A model's library entry: everything but its weights and curves. */
export function listingOf({ bytes, history, ...rest }) {
  return { ...rest, size: bytes?.byteLength ?? 0 };
}

let opening = null;

/** Whether IndexedDB can be used at all (it cannot in some private modes). */
export function available() {
  try { return typeof indexedDB !== 'undefined' && indexedDB !== null; } catch { return false; }
}

function open() {
  if (opening) return opening;
  opening = new Promise((resolve, reject) => {
    let req;
    try { req = indexedDB.open(DB, VERSION); } catch (e) { reject(e); return; }
    req.onupgradeneeded = ({ oldVersion }) => {
      const db = req.result;
      for (const name of STORES) if (!db.objectStoreNames.contains(name)) {
        db.createObjectStore(name, name === 'meta' ? undefined : { keyPath: 'id' });
      }
      // Version 2 had no listing: build it once from its models (the last full read). Version 1
      // kept one model in a 'kv' store, which is not carried over: it stays, unread.
      if (oldVersion >= 1 && oldVersion < 3) {
        const tx = req.transaction;
        tx.objectStore('models').openCursor().onsuccess = (e) => {
          const cursor = e.target.result;
          if (!cursor) return;
          tx.objectStore('listing').put(listingOf(cursor.value));
          cursor.continue();
        };
      }
    };
    req.onsuccess = () => {
      const db = req.result;
      // Another tab upgrading the database: let it, and open again next time.
      db.onversionchange = () => { db.close(); opening = null; };
      resolve(db);
    };
    req.onerror = () => reject(req.error ?? new Error('IndexedDB could not be opened'));
    req.onblocked = () => reject(new Error('the saved models are held by an older copy of Shige in another tab; close it and reload'));
  });
  opening.catch(() => { opening = null; });
  return opening;
}

/** Whether a storage failure means the disk or the site's quota is full. */
export const isQuota = (error) => error?.name === 'QuotaExceededError' || /quota/i.test(error?.message ?? '');

/** A storage failure's own words (the page says it in the reader's language when it can). */
export function describe(error) {
  return error?.message || error?.name || 'unknown storage error';
}

/**
 * Runs `fn(stores)` in one transaction over `names`; resolves with fn's result once the
 * transaction commits, rejects if it aborts or errors. All writes in `fn` land together or not at all.
 */
export async function transaction(names, mode, fn) {
  const db = await open();
  return new Promise((resolve, reject) => {
    let tx;
    try { tx = db.transaction(names, mode); } catch (e) { reject(e); return; }
    const stores = Object.fromEntries(names.map((n) => [n, tx.objectStore(n)]));
    let result;
    const fail = () => reject(tx.error ?? new DOMException('the storage transaction was aborted', 'AbortError'));
    tx.oncomplete = () => resolve(result instanceof IDBRequest ? result.result : result);
    // A failed request aborts the transaction (its default action), which rejects here.
    tx.onabort = fail;
    try { result = fn(stores); } catch (e) { try { tx.abort(); } catch { /* already finished */ } reject(e); }
  });
}

const request = (req) => new Promise((resolve, reject) => {
  req.onsuccess = () => resolve(req.result);
  req.onerror = () => reject(req.error);
});

export const getModel = (id) => transaction(['models'], 'readonly', (s) => s.models.get(id));
export const getCorpus = (id) => transaction(['corpora'], 'readonly', (s) => s.corpora.get(id));
export const getMeta = (key) => transaction(['meta'], 'readonly', (s) => s.meta.get(key));

/** Every model's library entry (no weights are read), newest first. */
export async function listModels() {
  const db = await open();
  const tx = db.transaction(['listing'], 'readonly');
  const all = await request(tx.objectStore('listing').getAll());
  return all.sort((a, b) => (b.savedAt ?? 0) - (a.savedAt ?? 0));
}

/**
 * Writes models, a corpus and meta entries in one transaction: `{ models: [...], corpus, meta: {key: value} }`.
 */
export function save({ models = [], corpus = null, meta = {}, deleteModels = [] }) {
  return transaction(STORES, 'readwrite', (s) => {
    if (corpus) s.corpora.put(corpus);
    for (const m of models) { s.models.put(m); s.listing.put(listingOf(m)); }
    for (const id of deleteModels) { s.models.delete(id); s.listing.delete(id); }
    for (const [k, v] of Object.entries(meta)) s.meta.put(v, k);
  });
}

/** A content hash naming a corpus (so the same file is stored once). */
export async function hashBytes(bytes) {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest).slice(0, 12), (b) => b.toString(16).padStart(2, '0')).join('');
}
