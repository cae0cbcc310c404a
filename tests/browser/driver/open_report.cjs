// A batch report page (scripts/batch.py report) as a user opens it: from the disk, in headless Chromium.
// Waits for every image, reads what the page shows, screenshots it whole.
//   node open_report.cjs JOB.json  -> {"title", "tableRows", "headers", "images": [{src, width, height}], "problems"}
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { runMain } = require('./comfy_page.cjs');

async function main(job) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'kinema-report-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: job.chromium, headless: true, args: ['--no-sandbox', '--allow-file-access-from-files'],
    viewport: { width: 1400, height: 900 },
  });
  const problems = [];
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`); });
    page.on('requestfailed', (request) => problems.push(`failed to load ${request.url()}`));
    await page.goto(job.pageUrl, { waitUntil: 'load', timeout: job.timeoutMs });
    // 'load' waits for images; complete && naturalWidth > 0 tells a decoded image from a broken one.
    const shown = await page.evaluate(() => ({
      title: document.title,
      headers: [...document.querySelectorAll('table th')].map((th) => th.textContent),
      tableRows: document.querySelectorAll('table tr').length - 1,
      images: [...document.images].map((img) => ({
        src: img.getAttribute('src'), width: img.complete ? img.naturalWidth : 0, height: img.complete ? img.naturalHeight : 0,
      })),
      scripts: document.scripts.length,
    }));
    await page.screenshot({ path: job.screenshot, fullPage: true });
    return { ...shown, problems };
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

runMain(main);
