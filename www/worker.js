// The trainer's worker: owns the wasm runs so training never blocks the page.
// Messages in: { id, op, args }; replies: { id, ok, result | error }; events: { event, ... }.
// The work is in worker/ (loop.js is the loop). This file stays the worker's script, at the
// site's root, so the site-relative URLs it fetches (build.json, the corpus, pkg*/) resolve there.
import './worker/loop.js';
