// One UI workflow through the real frontend, as a user would: load it into the app, list node types the
// frontend does not know, screenshot the fitted graph, convert it with the app's own graphToPrompt and,
// if asked, shrink some widgets and queue it from the page, waiting for that prompt's execution_success.
//   node check_workflow.cjs JOB.json  -> one JSON line on stdout (read by test_workflows_in_frontend.py)
'use strict';

const fs = require('node:fs');
const { openApp, fitGraph, runMain } = require('./comfy_page.cjs');

async function loadWorkflow(page, workflow, name) {
  return page.evaluate(async ({ workflow, name }) => {
    const app = window.app;
    const known = (type) => type in window.LiteGraph.registered_node_types;
    // The frontend hands the types it could not create to every extension's afterConfigureGraph hook.
    let reported = null;
    app.registerExtension({
      name: `kinema.tests.missingTypes.${Date.now()}`,
      afterConfigureGraph(missing) { reported = missing.map((m) => (typeof m === 'string' ? m : m.type)); },
    });
    await app.loadGraphData(workflow, true, true, name);
    return {
      reportedMissingTypes: reported,
      unknownNodes: app.graph.nodes.filter((n) => !known(n.type)).map((n) => ({ id: String(n.id), type: n.type })),
      nodeCount: app.graph.nodes.length,
      // What the page would save again: values it changed or dropped while loading show up here.
      savedWidgets: Object.fromEntries(app.graph.serialize().nodes.map((n) => [String(n.id), n.widgets_values ?? []])),
    };
  }, { workflow, name });
}

// Set every literal widget with one of these names (e.g. width, steps) on every node; return what changed.
async function shrinkWidgets(page, overrides) {
  return page.evaluate((overrides) => {
    const changed = [];
    for (const node of window.app.graph.nodes) {
      for (const widget of node.widgets || []) {
        const linked = node.inputs?.some((input) => input.widget?.name === widget.name && input.link != null);
        if (widget.name in overrides && !linked) {
          widget.value = overrides[widget.name];
          changed.push({ id: String(node.id), name: widget.name, value: widget.value });
        }
      }
    }
    window.app.graph.setDirtyCanvas(true, true);
    return changed;
  }, overrides);
}

// Queue through app.queuePrompt (what the Queue button calls). It returns false even on success, so the
// prompt id comes from the page's own POST /api/prompt response; the result from the app's websocket events.
async function queueFromPage(page, timeoutMs) {
  await page.evaluate(() => {
    const api = window.comfyAPI.api.api;
    window.kinemaEvents = [];
    for (const type of ['execution_success', 'execution_error', 'execution_interrupted']) {
      api.addEventListener(type, (event) => window.kinemaEvents.push({ type, ...event.detail }));
    }
  });
  const posted = page.waitForResponse((res) => res.url().endsWith('/api/prompt') && res.request().method() === 'POST',
    { timeout: timeoutMs });
  await page.evaluate(() => { window.app.queuePrompt(0, 1); });
  const response = await posted;
  const sent = response.request().postDataJSON();
  const body = await response.json();
  if (response.status() !== 200 || !body.prompt_id) {
    return { status: response.status(), body, sentPrompt: sent.prompt };
  }
  const started = Date.now();
  const handle = await page.waitForFunction(
    (id) => window.kinemaEvents.find((e) => e.prompt_id === id), body.prompt_id, { timeout: timeoutMs, polling: 250 });
  return { status: 200, promptId: body.prompt_id, event: await handle.jsonValue(), seconds: (Date.now() - started) / 1000,
    sentPrompt: sent.prompt };
}

async function main(job) {
  const workflow = JSON.parse(fs.readFileSync(job.workflowPath, 'utf8'));
  const { page, problems, close } = await openApp(job);
  try {
    const loaded = await loadWorkflow(page, workflow, job.name);
    await fitGraph(page);
    await page.screenshot({ path: job.screenshot });
    const { output } = await page.evaluate(() => window.app.graphToPrompt());
    const result = { ...loaded, prompt: output };
    if (job.queue) {
      result.shrunk = await shrinkWidgets(page, job.overrides || {});
      result.run = await queueFromPage(page, job.runTimeoutMs);
    }
    result.problems = problems;
    return result;
  } finally {
    await close();
  }
}

runMain(main);
