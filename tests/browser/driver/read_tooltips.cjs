// What a user sees when resting the mouse on one of our nodes in the real page: the tooltip over its
// title (the node description) and over one widget (that input's tooltip), read from the page's
// tooltip element after real mouse moves over the canvas.
//   node read_tooltips.cjs JOB.json  -> {"title": "...", "widget": "...", "problems": [...]}
'use strict';

const fs = require('node:fs');
const { openApp, fitGraph, runMain } = require('./comfy_page.cjs');

// Page coordinates of a node's title bar and of one of its widgets, from the canvas transform.
async function targets(page, nodeType, widgetName) {
  return page.evaluate(({ nodeType, widgetName }) => {
    const { app, LiteGraph } = window;
    const node = app.graph.nodes.find((n) => n.type === nodeType);
    if (!node) throw new Error(`no ${nodeType} node in the loaded graph`);
    const widget = node.widgets?.find((w) => w.name === widgetName);
    if (!widget) throw new Error(`${nodeType} has no widget named ${widgetName}`);
    const box = app.canvas.canvas.getBoundingClientRect();
    const toPage = (x, y) => {
      const [cx, cy] = app.canvas.ds.convertOffsetToCanvas([x, y]);
      return { x: box.left + cx, y: box.top + cy };
    };
    const middle = node.pos[0] + node.size[0] / 2;
    return {
      title: toPage(middle, node.pos[1] - LiteGraph.NODE_TITLE_HEIGHT / 2),
      widget: toPage(middle, node.pos[1] + widget.y + LiteGraph.NODE_WIDGET_HEIGHT / 2),
    };
  }, { nodeType, widgetName });
}

async function tooltipAt(page, point) {
  await page.mouse.move(point.x - 30, point.y, { steps: 3 });
  await page.mouse.move(point.x, point.y, { steps: 5 });
  const tooltip = page.locator('.node-tooltip');
  await tooltip.waitFor({ state: 'visible', timeout: 5000 });
  const text = await tooltip.innerText();
  await page.mouse.move(5, 5); // away, so the next tooltip is a fresh one
  await tooltip.waitFor({ state: 'hidden', timeout: 5000 });
  return text;
}

async function main(job) {
  const workflow = JSON.parse(fs.readFileSync(job.workflowPath, 'utf8'));
  const { page, problems, close } = await openApp(job);
  try {
    await page.evaluate((workflow) => window.app.loadGraphData(workflow), workflow);
    await fitGraph(page);
    const points = await targets(page, job.nodeType, job.widgetName);
    return {
      title: await tooltipAt(page, points.title),
      widget: await tooltipAt(page, points.widget),
      problems,
    };
  } finally {
    await close();
  }
}

runMain(main);
