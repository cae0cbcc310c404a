// The real ComfyUI frontend in Debian's Chromium: launch, open the app, record what the page complains about.
// Shared by the check scripts; playwright-core is resolved through NODE_PATH (installed by scripts/browser_setup.py).
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
];

// Noise that says nothing about our workflows or nodes: files the frontend probes for and does not
// need (404), the page's Content-Security-Policy refusing hosts other than the local server (there is
// no network here anyway), and one error frontend 1.32.9 logs on every start, with any workflow or none:
// its render-mode watcher writes a setting before that setting is registered.
const FRONTEND_START_BUG = /^TypeError: Cannot read properties of undefined \(reading 'id'\)\s+at onChange .*\s+at Proxy\.set /s;

function problemRecorder(page, serverUrl) {
  const local = (url) => url.startsWith(serverUrl);
  const notFound = new Set();
  const recorder = { problems: [], phase: 'while the app started' };
  const note = (text) => recorder.problems.push(`${recorder.phase}: ${text}`);
  page.on('pageerror', (error) => note(`uncaught exception: ${error.stack || error.message}`));
  page.on('response', (res) => {
    if (res.status() === 404) notFound.add(res.url());
    else if (res.status() >= 400) note(`HTTP ${res.status()}: ${res.request().method()} ${res.url()}`);
  });
  page.on('requestfailed', (req) => {
    const aborted404 = notFound.has(req.url()) && req.failure()?.errorText === 'net::ERR_ABORTED';
    if (local(req.url()) && !aborted404) note(`request failed: ${req.url()} ${req.failure()?.errorText || ''}`);
  });
  page.on('console', (msg) => {
    const text = msg.text();
    const csp = /violates the following Content Security Policy/.test(text) && !text.includes(serverUrl);
    const missingFile = /Failed to load resource: .*404/.test(text);
    const startBug = recorder.phase === 'while the app started' && FRONTEND_START_BUG.test(text);
    if (msg.type() === 'error' && !csp && !missingFile && !startBug) note(`console error: ${text} (${msg.location().url || ''})`);
  });
  return recorder;
}

async function openApp(job) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'kinema-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: job.chromium,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 2400, height: 1100 }, // wide graphs stay above the zoom where text is no longer drawn
  });
  const page = context.pages()[0] || (await context.newPage());
  const recorder = problemRecorder(page, job.url);

  await page.goto(job.url, { waitUntil: 'load' });
  // window.app is set once the app's setup() has registered every node definition from /object_info;
  // the start-up workflow tab is open by then too, so it cannot replace the workflow we load.
  await page.waitForFunction(() => window.app?.graph && window.app.canvas && window.LiteGraph?.registered_node_types?.KSampler
    && window.app.extensionManager?.workflow?.activeWorkflow, null, { timeout: job.timeoutMs });
  // Let the start-up requests settle, so their errors count as start-up ones (best effort: a page may poll).
  await page.waitForLoadState('networkidle', { timeout: 10_000 }).catch(() => {});
  recorder.phase = 'while handling the workflow';
  const close = async () => {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return { page, problems: recorder.problems, close };
}

// Fit every node into the view at once (the app's own fit animates) and draw, ready for a screenshot.
// The side bar overlays the canvas' left edge: the second pass widens the bounds by its width.
async function fitGraph(page) {
  await page.evaluate(() => {
    const { app } = window;
    const rects = app.graph.nodes.map((node) => node.boundingRect);
    const left = Math.min(...rects.map((r) => r[0]));
    const top = Math.min(...rects.map((r) => r[1]));
    const right = Math.max(...rects.map((r) => r[0] + r[2]));
    const bottom = Math.max(...rects.map((r) => r[1] + r[3]));
    const sideBar = document.querySelector('.side-tool-bar-container')?.getBoundingClientRect().width ?? 0;
    app.canvas.ds.fitToBounds([left, top, right - left, bottom - top], { zoom: 0.95 });
    const margin = sideBar / app.canvas.ds.scale;
    app.canvas.ds.fitToBounds([left - margin, top, right - left + margin, bottom - top], { zoom: 0.95 });
    app.canvas.setDirty(true, true);
    app.canvas.draw(true, true);
  });
}

async function readJob() {
  return JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
}

// Run main(job) and print its result as one JSON line on stdout; failures go to stderr with a non-zero exit.
function runMain(main) {
  readJob()
    .then(main)
    .then((result) => { process.stdout.write(JSON.stringify(result) + '\n'); })
    .catch((error) => { process.stderr.write(`${error.stack || error}\n`); process.exit(1); });
}

module.exports = { openApp, fitGraph, runMain };
