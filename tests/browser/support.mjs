// What every browser test shares: Debian's Chromium driven by
// playwright-core, pages that record their console errors and every request
// to another origin, and the WCAG 2.1 A/AA check of axe-core.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const AXE_SCRIPT = require.resolve("axe-core/axe.min.js");

export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox"],
    headless: true,
  });
}

// A page that records its console errors and every request to another origin than `origin`.
export async function watchedPage(browser, origin) {
  // bypassCSP lets the test inject axe-core; the page's own scripts obey the policy.
  const context = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const problems = { console: [], foreign: [] };
  page.on("console", (message) => {
    if (message.type() === "error") problems.console.push(message.text());
  });
  page.on("pageerror", (error) => problems.console.push(String(error)));
  page.on("request", (request) => {
    const url = request.url();
    if (!url.startsWith("data:") && new URL(url).origin !== origin) problems.foreign.push(url);
  });
  return { context, page, problems };
}

export async function checkAccessible(page, what) {
  await page.addScriptTag({ path: AXE_SCRIPT });
  const result = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }),
  );
  const violations = result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target).join(", ")})`);
  assert.deepEqual(violations, [], `${what} has accessibility violations`);
}

export function assertClean(problems, what) {
  assert.deepEqual(problems.console, [], `${what} logged console errors`);
  assert.deepEqual(problems.foreign, [], `${what} made requests to other origins`);
}
