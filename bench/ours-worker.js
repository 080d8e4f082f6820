// bench/ours.js in a Web Worker: one message in (its options), one out (its figures or error).
import { benchOurs } from './ours.js';

self.onmessage = async ({ data }) => {
  try {
    self.postMessage({ ok: true, result: await benchOurs(data) });
  } catch (e) {
    self.postMessage({ ok: false, error: String(e?.message ?? e) });
  }
};
