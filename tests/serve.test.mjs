// scripts/serve.sh and scripts/build-site.sh as users run them (the port check, the process
// groups, the build lock, the swap of dist/site), in a scratch copy of the repository whose
// set-up and wasm build are stand-ins: a real wasm build takes ten minutes of cargo, and only
// its being a long-running child matters here. Every process the scripts start carries a
// marker in its environment, so the tests can see that none is left (and kill any that is).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, cp, copyFile, writeFile, readFile, symlink, rm, readdir } from 'node:fs/promises';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { createServer, Agent, get } from 'node:http';
import { once } from 'node:events';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const scratch = await mkdtemp(join(tmpdir(), 'shige-serve-'));
after(() => rm(scratch, { recursive: true, force: true, maxRetries: 3 }));

// The stand-ins, written over the copies of scripts/setup.sh and scripts/build-wasm.sh. Each
// logs to events.log; the build writes a small module where the real one puts its build, after
// FAKE_BUILD_S seconds (FAKE_OPTIMIZE_S with --optimize) in a child process, as cargo is one.
const FAKE_SETUP = `source "$(dirname "\${BASH_SOURCE[0]}")/lib.sh"
echo "setup $* $(date +%s%3N)" >>"$ROOT/events.log"
`;
const FAKE_BUILD_WASM = `source "$(dirname "\${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
lock_builds # as the real one (held already when build-site.sh runs it)
out=$(wasm_setting bindgen out_dir) seconds=\${FAKE_BUILD_S:-0}
for arg; do
  case $arg in
    --optimize) seconds=\${FAKE_OPTIMIZE_S:-0} ;;
    --threads) out=$(wasm_setting threads out_dir) ;;
    --relaxed) out=$(wasm_setting threads relaxed_out_dir) ;;
  esac
done
echo "start $$ $* $(date +%s%3N)" >>events.log
sleep "$seconds" &
wait $!
rm -rf "$out"
mkdir -p "$out"
echo 'export default async function init() {}' >"$out/shige.js"
printf '\\0asm\\1\\0\\0\\0' >"$out/shige_bg.wasm"
echo "end $$ $* $(date +%s%3N)" >>events.log
`;

/**
 * A copy of what the scripts use, with the stand-ins; `dist/` starts empty. When test `t` ends,
 * whatever it left running is killed and its pipes closed (else they keep this process alive).
 */
async function repository(name, t) {
  const dir = join(scratch, name);
  await mkdir(join(dir, 'tests'), { recursive: true });
  await mkdir(join(dir, 'assets/generated'), { recursive: true });
  await cp(join(root, 'scripts'), join(dir, 'scripts'), { recursive: true });
  await cp(join(root, 'www'), join(dir, 'www'), { recursive: true });
  await copyFile(join(root, 'wasm-pack.toml'), join(dir, 'wasm-pack.toml'));
  await copyFile(join(root, 'tests/package.json'), join(dir, 'tests/package.json'));
  await symlink(join(root, 'tests/node_modules'), join(dir, 'tests/node_modules'));
  await symlink(join(root, 'assets/node_modules'), join(dir, 'assets/node_modules'));
  await writeFile(join(dir, 'assets/generated/default-corpus.txt'), '床前明月光\n疑是地上霜\n举头望明月\n低头思故乡\n');
  await writeFile(join(dir, 'scripts/setup.sh'), FAKE_SETUP);
  await writeFile(join(dir, 'scripts/build-wasm.sh'), FAKE_BUILD_WASM);
  const marker = `${process.pid}-${name}`;
  const env = { ...process.env, SHIGE_CACHE: join(scratch, 'cache'), SHIGE_SERVE_TEST: marker };
  for (const inherited of ['SHIGE_T0', 'SHIGE_BUILD_LOCK', 'CARGO_TARGET_DIR']) delete env[inherited];
  const repo = { dir, marker, env, children: [], agent: new Agent({ keepAlive: true }) };
  t.after(() => {
    for (const { pid } of processesOf(marker)) try { process.kill(pid, 'SIGKILL'); } catch {}
    for (const child of repo.children) { child.stdout.destroy(); child.stderr.destroy(); }
    repo.agent.destroy();
  });
  return repo;
}

/** Starts a script in a process group of its own, as a shell starts a command (Ctrl-C goes to the group). */
function start({ dir, env, children }, args, extraEnv = {}) {
  const child = spawn('bash', args, { cwd: dir, env: { ...env, ...extraEnv }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const run = { child, output: '' };
  child.stdout.on('data', (d) => { run.output += d; });
  child.stderr.on('data', (d) => { run.output += d; });
  // 'exit', not 'close': a process left behind would hold the pipes open.
  run.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return run;
}

async function within(ms, promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms); });
  try { return await Promise.race([promise, timeout]); } finally { clearTimeout(timer); }
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(condition, ms, what) {
  const end = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(50);
  }
}

/** The processes (not zombies) whose environment carries `marker`, with their command lines. */
function processesOf(marker) {
  const found = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`SHIGE_SERVE_TEST=${marker}`)) continue;
      found.push({ pid: Number(pid), args: readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ').trim() });
    } catch {} // gone meanwhile
  }
  return found;
}
async function noneLeft(marker) {
  const end = Date.now() + 5000;
  while (processesOf(marker).length && Date.now() < end) await sleep(100);
  assert.deepEqual(processesOf(marker).map((p) => p.args), [], 'processes left running');
}

async function freePort() {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  return port;
}

function fetchStatus({ agent }, port, path) {
  return new Promise((resolve) => {
    get({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', (e) => resolve({ status: e.code, body: '' }));
  });
}
const served = async (repo, port) => (await fetchStatus(repo, port, '/')).status === 200;

/** The stand-in builds from events.log: { pid, args, start, end }. */
async function builds(dir) {
  const text = await readFile(join(dir, 'events.log'), 'utf8').catch(() => '');
  const byPid = new Map();
  for (const line of text.trim().split('\n').filter(Boolean)) {
    const [kind, pid, ...rest] = line.split(' ');
    if (kind === 'setup') continue;
    const time = Number(rest.pop());
    if (!byPid.has(pid)) byPid.set(pid, { pid, args: rest.join(' ') });
    byPid.get(pid)[kind] = time;
  }
  return [...byPid.values()];
}
const siteId = async (dir) => JSON.parse(await readFile(join(dir, 'dist/site/build.json'), 'utf8')).id;

test('serve.sh on a port in use exits with a message, before any set-up or build', { timeout: 60_000 }, async (t) => {
  const repo = await repository('taken', t);
  const holder = createServer((req, res) => res.end('someone else')).listen(0, '127.0.0.1');
  await once(holder, 'listening');
  const { port } = holder.address();
  try {
    const serve = start(repo, ['scripts/serve.sh', '--port', String(port)]);
    const { code } = await within(30_000, serve.exited, 'serve.sh exits');
    assert.notEqual(code, 0, serve.output);
    assert.match(serve.output, new RegExp(`port ${port} is in use`));
    assert.equal(existsSync(join(repo.dir, 'events.log')), false, `set up or built before the check:\n${serve.output}`);
    await noneLeft(repo.marker);
  } finally {
    holder.close();
  }
});

test('Ctrl-C during the background build stops every process serve.sh started', { timeout: 60_000 }, async (t) => {
  const repo = await repository('interrupted', t);
  const port = await freePort();
  // The first run: the default build (at once), served, then the optimised one (a minute).
  const serve = start(repo, ['scripts/serve.sh', '--port', String(port)], { FAKE_OPTIMIZE_S: '60' });
  await until(async () => (await builds(repo.dir)).some((b) => /--optimize\b/.test(b.args)), 30_000,
    `the background build starts\n${serve.output}`);
  assert.ok(await served(repo, port), 'the default build is served meanwhile');
  // As a terminal does: SIGINT to the foreground process group.
  process.kill(-serve.child.pid, 'SIGINT');
  await within(10_000, serve.exited, 'serve.sh exits on Ctrl-C');
  await noneLeft(repo.marker);
  assert.ok(!(await builds(repo.dir)).some((b) => /--optimize\b/.test(b.args) && b.end), 'the background build went on');
});

test('the server failing stops the background build too', { timeout: 60_000 }, async (t) => {
  const repo = await repository('server-fails', t);
  const port = await freePort();
  const serve = start(repo, ['scripts/serve.sh', '--port', String(port)], { FAKE_OPTIMIZE_S: '60' });
  await until(async () => (await builds(repo.dir)).some((b) => /--optimize\b/.test(b.args)), 30_000,
    `the background build starts\n${serve.output}`);
  const server = processesOf(repo.marker).find((p) => p.args.includes('serve.mjs'));
  process.kill(server.pid, 'SIGKILL');
  const { code } = await within(10_000, serve.exited, 'serve.sh exits with its server');
  await noneLeft(repo.marker);
  assert.notEqual(code, 0);
  assert.match(serve.output, /the server stopped/);
});

test('a restart serves the last complete site at once; two builds take turns; dist/site always answers', { timeout: 90_000 }, async (t) => {
  const repo = await repository('turns', t);
  // The complete site an earlier run left.
  const earlier = start(repo, ['scripts/build-site.sh', '--optimize']);
  assert.equal((await within(30_000, earlier.exited, 'the first build')).code, 0, earlier.output);
  const complete = await siteId(repo.dir);
  const worker = await readFile(join(repo.dir, 'dist/site/sw.js'), 'utf8');
  await rm(join(repo.dir, 'events.log'));

  // A build runs (three modules, a second of "cargo" each) when serve.sh restarts, and a second
  // one starts meanwhile.
  const first = start(repo, ['scripts/build-site.sh', '--optimize'], { FAKE_OPTIMIZE_S: '1' });
  await until(async () => (await builds(repo.dir)).length > 0, 10_000, 'the first build starts');
  const port = await freePort();
  const serve = start(repo, ['scripts/serve.sh', '--port', String(port)], { FAKE_OPTIMIZE_S: '0.3' });
  await until(() => served(repo, port), 5_000, `served at once\n${serve.output}`);
  // From now on every request answers, while the builds swap the site in one after the other.
  const statuses = new Map();
  let polling = true;
  t.after(() => { polling = false; });
  const poller = (async () => {
    while (polling) {
      const { status, body } = await fetchStatus(repo, port, '/');
      const key = status === 200 && body.includes('<html') ? 'ok' : `${status} ${body.slice(0, 80)}`;
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
      await sleep(1); // about one a millisecond: the two builds share the machine's cores
    }
  })();
  assert.equal(JSON.parse((await fetchStatus(repo, port, '/build.json')).body).id, complete, 'the complete site is served first');
  const second = start(repo, ['scripts/build-site.sh', '--optimize'], { FAKE_OPTIMIZE_S: '0.3' });
  const [a, b] = await within(60_000, Promise.all([first.exited, second.exited]), 'both builds end');
  polling = false;
  await poller;
  assert.equal(a.code, 0, first.output);
  assert.equal(b.code, 0, second.output);
  assert.match(second.output, /another build is running in this clone .*waiting/);
  await until(() => /another build is running in this clone/.test(serve.output), 10_000, `serve.sh leaves its build to the other one\n${serve.output}`);
  const ran = await builds(repo.dir);
  assert.equal(ran.length, 6, `the two builds' three modules each, and none by serve.sh: ${JSON.stringify(ran)}`);
  ran.sort((x, y) => x.start - y.start);
  for (let i = 1; i < ran.length; i++) assert.ok(ran[i].start >= ran[i - 1].end, `the builds overlapped: ${JSON.stringify(ran)}`);
  assert.deepEqual([...statuses.keys()], ['ok'], `answers while swapping: ${JSON.stringify([...statuses])}`);
  assert.ok(statuses.get('ok') > 20, `too few requests: ${statuses.get('ok')}`);
  // The same sources give the same site: an open page sees no new version.
  assert.equal(await siteId(repo.dir), complete);
  assert.equal(await readFile(join(repo.dir, 'dist/site/sw.js'), 'utf8'), worker);
  assert.deepEqual((await readdir(join(repo.dir, 'dist'))).filter((f) => f.startsWith('site.')), [], 'left beside dist/site');

  process.kill(-serve.child.pid, 'SIGINT');
  await within(10_000, serve.exited, 'serve.sh exits on Ctrl-C');
  await noneLeft(repo.marker);
});
