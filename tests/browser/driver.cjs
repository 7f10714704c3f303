// Browser driver for edgecall's end-to-end tests (tests/src/browser.rs).
//
// Reads one JSON command per line on stdin and answers each with one JSON
// line on stdout: {"id", "ok": true, "value"} or {"id", "ok": false,
// "error"}. Every page runs in its own Chromium (Debian's, through
// playwright-core; no browser is ever downloaded) with its own fresh
// user-data-dir, so pages share no state. Console output and page errors
// go to <log_dir>/<page>.log, the browsers' own output to driver.log.
//
// A page may instead be Debian's Firefox ESR ({"browser": "firefox"}),
// driven over WebDriver BiDi by an older playwright-core (installed as
// `playwright-core-bidi`): 1.65's BiDi client sends a command ESR 153 does
// not know (`emulation.setMediaFeaturesOverride`).
//
// Environment: EDGECALL_NODE_MODULES (where playwright-core is installed),
// EDGECALL_CHROMIUM and EDGECALL_FIREFOX (the browser binaries).
'use strict';

const fs = require('fs');
const path = require('path');
const readline = require('readline');

const modules = process.env.EDGECALL_NODE_MODULES;
if (!modules) {
  process.stderr.write('EDGECALL_NODE_MODULES is not set\n');
  process.exit(2);
}
// Each browser process's own output (a renderer's CHECK failure before a
// crash, say) goes to this driver's stderr, which the harness keeps as
// driver.log: playwright logs it under `pw:browser`.
process.env.DEBUG = [process.env.DEBUG, 'pw:browser'].filter(Boolean).join(',');
const { chromium } = require(path.join(modules, 'playwright-core'));
const executablePath = process.env.EDGECALL_CHROMIUM || '/usr/bin/chromium';
const firefoxPath = process.env.EDGECALL_FIREFOX || '/usr/bin/firefox-esr';

/** Firefox's stand-ins for Chromium's fake-device and autoplay flags. */
const FIREFOX_PREFS = {
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  'media.autoplay.default': 0,
  'media.autoplay.blocking_policy': 0,
};

/** A Firefox ESR context (its browser closes with it). */
async function firefoxContext() {
  const bidi = require(path.join(modules, 'playwright-core-bidi'));
  const browser = await bidi._bidiFirefox.launch({
    executablePath: firefoxPath,
    headless: true,
    firefoxUserPrefs: FIREFOX_PREFS,
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const close = context.close.bind(context);
  context.close = async () => {
    await close();
    await browser.close();
  };
  return context;
}

/** name -> { context, page, log } */
const pages = new Map();

function page(name) {
  const entry = pages.get(name);
  if (!entry) throw new Error(`no page named ${JSON.stringify(name)}`);
  return entry;
}

/** The page's requests still in flight, each with its age. */
function openRequests(entry) {
  return [...entry.inflight].map(([r, t]) => `${r.url()} (${Date.now() - t} ms)`);
}

function logLine(entry, line) {
  fs.appendFileSync(entry.log, `${new Date().toISOString()} ${line}\n`);
}

const ops = {
  // {name, url, user_data_dir, log_dir, args, init_script?}
  async open(cmd) {
    if (pages.has(cmd.name)) throw new Error(`page ${cmd.name} is already open`);
    fs.mkdirSync(cmd.user_data_dir, { recursive: true });
    fs.mkdirSync(cmd.log_dir, { recursive: true });
    const context = cmd.browser === 'firefox'
      ? await firefoxContext()
      : await chromium.launchPersistentContext(cmd.user_data_dir, {
        executablePath,
        headless: true,
        args: cmd.args,
        viewport: { width: 1280, height: 800 },
        ignoreHTTPSErrors: false,
      });
    // Runs before the page's own scripts (e.g. to take an API away).
    if (cmd.init_script) await context.addInitScript(cmd.init_script);
    const entry = {
      context,
      page: context.pages()[0] || (await context.newPage()),
      log: path.join(cmd.log_dir, `${cmd.name}.log`),
    };
    // A fresh log per run: an old run's lines would mislead.
    fs.rmSync(entry.log, { force: true });
    pages.set(cmd.name, entry);
    entry.page.on('console', (m) => logLine(entry, `console.${m.type()}: ${m.text()}`));
    entry.page.on('pageerror', (e) => logLine(entry, `pageerror: ${e.stack || e}`));
    entry.page.on('crash', () => logLine(entry, 'page crashed (renderer gone)'));
    entry.page.on('requestfailed', (r) => {
      entry.inflight.delete(r);
      logLine(entry, `requestfailed: ${r.url()} ${r.failure() && r.failure().errorText}`);
    });
    // Requests still open are named when a page fails to load.
    entry.inflight = new Map();
    entry.page.on('request', (r) => entry.inflight.set(r, Date.now()));
    entry.page.on('requestfinished', (r) => {
      const started = entry.inflight.get(r);
      entry.inflight.delete(r);
      if (started !== undefined && Date.now() - started > 2000) {
        logLine(entry, `slow request: ${r.url()} took ${Date.now() - started} ms`);
      }
    });
    try {
      await entry.page.goto(cmd.url, { waitUntil: 'load', timeout: 60000 });
    } catch (err) {
      const open = openRequests(entry);
      logLine(entry, `load failed: ${err.message.split('\n')[0]}; still open: ${open.join(', ') || 'none'}`);
      throw new Error(`${err.message.split('\n')[0]}; requests still open: ${open.join(', ') || 'none'}`);
    }
    return null;
  },
  // {name, expression}: evaluates a JavaScript expression in the page
  // (promises are awaited) and returns its JSON value.
  async eval(cmd) {
    const value = await page(cmd.name).page.evaluate(cmd.expression);
    return value === undefined ? null : value;
  },
  // {name}: the page's requests still in flight, with their age.
  async pending(cmd) {
    return openRequests(page(cmd.name));
  },
  // {name, selector}
  async click(cmd) {
    await page(cmd.name).page.click(cmd.selector, { timeout: 30000 });
    return null;
  },
  // {name, key}: a key press with the page focused, e.g. "Alt+KeyA".
  async press(cmd) {
    await page(cmd.name).page.keyboard.press(cmd.key);
    return null;
  },
  // {name, selector, text}
  async fill(cmd) {
    await page(cmd.name).page.fill(cmd.selector, cmd.text, { timeout: 30000 });
    return null;
  },
  // {name, path}
  async screenshot(cmd) {
    fs.mkdirSync(path.dirname(cmd.path), { recursive: true });
    await page(cmd.name).page.screenshot({ path: cmd.path, fullPage: true });
    return cmd.path;
  },
  // {name}
  async close(cmd) {
    const entry = page(cmd.name);
    pages.delete(cmd.name);
    await entry.context.close();
    return null;
  },
};

async function closeAll() {
  const all = [...pages.values()];
  pages.clear();
  await Promise.allSettled(all.map((e) => e.context.close()));
}

function reply(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

// Commands run one at a time, in order.
let queue = Promise.resolve();
const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  queue = queue.then(async () => {
    let cmd;
    try {
      cmd = JSON.parse(line);
    } catch (e) {
      reply({ id: null, ok: false, error: `not JSON: ${e.message}` });
      return;
    }
    const op = ops[cmd.op];
    if (!op) {
      reply({ id: cmd.id, ok: false, error: `unknown op ${JSON.stringify(cmd.op)}` });
      return;
    }
    try {
      reply({ id: cmd.id, ok: true, value: await op(cmd) });
    } catch (e) {
      reply({ id: cmd.id, ok: false, error: String((e && e.message) || e) });
    }
  });
});
// The test process went away (or closed stdin): close every browser.
lines.on('close', () => {
  queue.then(closeAll).finally(() => process.exit(0));
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => closeAll().finally(() => process.exit(0)));
}
