// The trainer's worker: owns the wasm runs so training never blocks the page.
// Messages in: { id, op, args }; replies: { id, ok, result | error }; events: { event, ... }.
// The work is in worker/, in layers, each importing only those before it: protocol → session →
// runs, locks, wasm-loader → recovery → persist → ops → loop. This file stays the worker's
// script at the site's root, so the site-relative URLs it fetches (build.json, pkg*/) resolve there.
import './worker/loop.js';
