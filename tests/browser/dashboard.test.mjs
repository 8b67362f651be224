// The dashboard in real Chromium (Debian's, driven by playwright-core): every
// page loads with no console error, no request to another origin and no
// WCAG 2.1 A/AA violation; devices are filtered as you type; an operator
// pauses and resumes a rollout and sees a device's report within a second;
// a retrain job shows its run's steps, log and gate, and its version's
// lineage leads back to its samples; a reader sees no controls. The server, its fleet and its users are set up
// by tests/integration/dashboard_test.cpp, which runs this file and then
// checks the deployment's state.
//
// Environment: CANOPY_URL, CANOPY_PASSWORD, CANOPY_ADMIN, CANOPY_OPERATOR,
// CANOPY_READER (user names), CANOPY_DEPLOYMENT (its id), CANOPY_JOB (a
// retrain job that published CANOPY_CHALLENGER, a version awaiting approval),
// CANOPY_TELEMETRY_DEVICE (a device that sent readings), CANOPY_DEVICE_TOKEN
// and CANOPY_REPORT (a device's token and the status report it sends while
// the page is open), CHROMIUM, and CANOPY_SCREENSHOT_DIR when the pages'
// pictures should be saved (docs/screenshots).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launchBrowser, watchedPage, checkAccessible, assertClean } from "./support.mjs";

const URL_BASE = process.env.CANOPY_URL;
const ORIGIN = new URL(URL_BASE).origin;
const DEPLOYMENT = process.env.CANOPY_DEPLOYMENT;
const JOB = process.env.CANOPY_JOB;
const CHALLENGER = process.env.CANOPY_CHALLENGER;

let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

async function signIn(page, user) {
  await page.goto(`${URL_BASE}/`);
  await page.getByLabel("User name").waitFor();
  await page.keyboard.type(user); // the user name field has the focus
  await page.keyboard.press("Tab");
  await page.keyboard.type(process.env.CANOPY_PASSWORD);
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Overview" }).waitFor();
}

// Opens a page by its address and waits until nothing on it is loading.
async function open(page, hash, heading) {
  await page.goto(`${URL_BASE}/dashboard/${hash}`);
  await page.getByRole("heading", { level: 2, name: heading }).waitFor();
  await page.waitForFunction(() => document.querySelectorAll(".loading").length === 0);
}

async function screenshot(page, name) {
  if (process.env.CANOPY_SCREENSHOT_DIR)
    await page.screenshot({ path: `${process.env.CANOPY_SCREENSHOT_DIR}/dashboard-${name}.png`, fullPage: true });
}

test("every page loads clean for an admin", async () => {
  const { context, page, problems } = await watchedPage(browser, ORIGIN);
  await page.goto(`${URL_BASE}/`);
  await page.getByLabel("User name").waitFor();
  await checkAccessible(page, "the sign-in form");
  await signIn(page, process.env.CANOPY_ADMIN);

  const pages = [
    ["#/overview", "Overview", "overview"],
    ["#/devices", "Devices", "devices"],
    ["#/fields?field=north-field", "Fields", "fields"],
    ["#/deployments", "Deployments", "deployments"],
    [`#/deployments/${DEPLOYMENT}`, /^Deployment \d+/, "deployment"],
    ["#/models", "Models", "models"],
    ["#/models/crop-disease-detector", "Model crop-disease-detector", "model"],
    ["#/loop", "Data and loop", "loop"],
    [`#/loop/jobs/${JOB}`, /^Retrain job \d+/, "retrain-job"],
    [`#/models/crop-disease-detector/versions/${CHALLENGER}`, `crop-disease-detector:${CHALLENGER}`, "lineage"],
    [`#/loop/drift?model=crop-disease-detector:1&field=north`, "Drift of crop-disease-detector:1 in north", "drift"],
    ["#/admin", "Users and keys", "admin"],
  ];
  for (const [hash, heading, name] of pages) {
    await open(page, hash, heading);
    await checkAccessible(page, `the ${name} page`);
    await screenshot(page, name);
  }
  // The field's plan shows the device that sent readings with its soil moisture, in words.
  await open(page, "#/fields?field=north-field", "Fields");
  await page.locator("li.tile", { hasText: "soil-1: 0.24 m³/m³, moderate" })
    .filter({ hasText: "1 open alert: north" }).waitFor();
  // A device in full, reached from the list, and one with an hour of readings and telemetry.
  await open(page, "#/devices", "Devices");
  await page.locator("tbody a").first().click();
  await page.getByRole("heading", { level: 3, name: "Update reports" }).waitFor();
  await open(page, `#/devices/${process.env.CANOPY_TELEMETRY_DEVICE}`, /^Device /);
  await page.locator("figure.chart canvas").nth(2).waitFor();
  assert.deepEqual(await page.locator("figure.chart").evaluateAll((charts) => charts.map((c) => c.ariaLabel)),
    ["Sensor soil-1", "fps", "inference_ms"]);
  await checkAccessible(page, "a device's page");
  await screenshot(page, "device");
  assertClean(problems, "the admin's pages");
  await context.close();
});

test("devices are filtered as you type, sorted and paged by the server", async () => {
  const { context, page, problems } = await watchedPage(browser, ORIGIN);
  await signIn(page, process.env.CANOPY_ADMIN);
  await open(page, "#/devices", "Devices");
  const count = page.locator("#device-count");
  const all = Number((await count.textContent()).split(" ")[0]);
  assert.ok(all >= 16, `every device is counted: ${await count.textContent()}`);
  await page.getByLabel("Filter").focus();
  await page.keyboard.type("north cam-1");
  // cam-1, cam-10 and cam-11 of the north field.
  await page.waitForFunction(() => document.querySelector("#device-count").textContent.startsWith("3 devices"));
  assert.match(page.url(), /q=north\+cam-1/, "the filter is in the address");
  await page.getByRole("button", { name: "Name" }).click();
  await page.waitForFunction(() => document.querySelector("th[aria-sort='ascending']")?.textContent.includes("Name"));
  const names = await page.locator("tbody tr td:nth-child(2)").allTextContents();
  assert.deepEqual(names, ["cam-1", "cam-10", "cam-11"]);
  assertClean(problems, "the devices page");
  await context.close();
});

test("a retrain job shows its run, and its version's lineage leads back to its samples", async () => {
  const { context, page, problems } = await watchedPage(browser, ORIGIN);
  await signIn(page, process.env.CANOPY_ADMIN);
  await open(page, "#/loop", "Data and loop");
  await page.getByRole("link", { name: JOB, exact: true }).click();
  await page.getByRole("heading", { level: 2, name: /^Retrain job/ }).waitFor();
  await page.waitForFunction(() => document.querySelectorAll(".loading").length === 0);
  // The run's steps, the end of the training log, and the gate with what it measured.
  const steps = page.getByRole("table").filter({ has: page.getByRole("columnheader", { name: "Step" }) });
  assert.deepEqual(await steps.locator("tbody td:first-child").allTextContents(), ["train", "deploy"]);
  await page.getByText("The end of train's log").click();
  await page.getByLabel("The end of train's log").getByText("epoch 3 loss 0.6").waitFor();
  const gate = page.locator("tr", { hasText: "train.map50 >= 0.5" });
  assert.match(await gate.textContent(), /passed.*0\.8.*0\.5/);
  // The challenger awaits approval: an admin may approve or decline it.
  await page.getByRole("button", { name: "Approve" }).waitFor();
  await checkAccessible(page, "a retrain job with its log open");
  await screenshot(page, "retrain-job");

  // Its version, back to the job and the data, and on to one sample.
  await page.getByRole("link", { name: `crop-disease-detector:${CHALLENGER}` }).first().click();
  await page.getByRole("heading", { level: 2, name: `crop-disease-detector:${CHALLENGER}` }).waitFor();
  await page.getByRole("link", { name: `retrain job ${JOB}` }).waitFor();
  await page.getByText("3 samples").waitFor();
  await page.locator("a[href^='#/loop/samples/']").first().click();
  await page.getByRole("heading", { level: 2, name: /^Sample / }).waitFor();
  await page.getByText("scenes:1").waitFor();
  await checkAccessible(page, "a sample's lineage");

  // Drift over time, from the loop page's table: the second day's shift is past its threshold.
  await open(page, "#/loop", "Data and loop");
  await page.getByRole("link", { name: "north (crop-disease-detector:1) over time" }).first().click();
  await page.getByRole("heading", { level: 2, name: "Drift of crop-disease-detector:1 in north" }).waitFor();
  const psi = page.locator("tr", { hasText: "Population stability index" });
  await psi.waitFor();
  const [latest, threshold] = (await psi.locator("td").allTextContents()).slice(1).map(Number);
  assert.ok(latest > threshold, `psi ${latest} against ${threshold}`);
  assertClean(problems, "the loop's pages");
  await context.close();
});

test("an operator pauses and resumes a rollout, and a device's report shows within a second", async () => {
  const { context, page, problems } = await watchedPage(browser, ORIGIN);
  await signIn(page, process.env.CANOPY_OPERATOR);
  await open(page, `#/deployments/${DEPLOYMENT}`, /^Deployment \d+/);
  const state = page.locator("#deployment-state");
  assert.equal(await state.textContent(), "running");

  // Pause, with the keyboard: the button, then the dialog's confirmation.
  await page.getByRole("button", { name: "Pause" }).focus();
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog", { name: "Pause" });
  await dialog.waitFor();
  await checkAccessible(page, "the confirmation");
  await dialog.getByRole("button", { name: "Pause" }).press("Enter");
  await page.waitForFunction(() => document.querySelector("#deployment-state").textContent === "paused");

  await page.getByRole("button", { name: "Resume" }).click();
  await page.getByRole("dialog", { name: "Resume" }).getByRole("button", { name: "Resume" }).click();
  await page.waitForFunction(() => document.querySelector("#deployment-state").textContent === "running");

  // A device reports while the page is open: the page shows it within a second, with no reload.
  const counts = page.locator("#deployment-counts");
  assert.ok(!(await counts.textContent()).includes("downloading"));
  const sent = Date.now();
  const response = await fetch(`${URL_BASE}/api/v1/device/status`, {
    method: "POST",
    headers: { Authorization: `Bearer ${process.env.CANOPY_DEVICE_TOKEN}`, "Content-Type": "application/json" },
    body: process.env.CANOPY_REPORT,
  });
  assert.equal(response.status, 200, await response.text());
  await page.waitForFunction(() => document.querySelector("#deployment-counts").textContent.includes("downloading"),
    null, { timeout: 5000 });
  const elapsed = Date.now() - sent;
  assert.ok(elapsed < 1000, `the report reached the page after ${elapsed} ms`);
  console.log(`# a device's report reached the open deployment page in ${elapsed} ms`);
  assertClean(problems, "the operator's deployment page");
  await context.close();
});

test("the audit log shows who paused and resumed", async () => {
  const { context, page, problems } = await watchedPage(browser, ORIGIN);
  await signIn(page, process.env.CANOPY_ADMIN);
  await open(page, "#/admin", "Users and keys");
  const rows = await page.locator("#audit-log tbody tr").allTextContents();
  const operator = process.env.CANOPY_OPERATOR;
  assert.ok(rows[0].includes(`${operator}`) && rows[0].includes(`/api/v1/deployments/${DEPLOYMENT}/resume`), rows[0]);
  assert.ok(rows[1].includes(`/api/v1/deployments/${DEPLOYMENT}/pause`), rows[1]);
  await page.getByLabel("Made by").fill(operator);
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelectorAll("#audit-log tbody tr").length === 2);
  assertClean(problems, "the audit log");
  await context.close();
});

test("a reader sees every page but the admin's, the rollout but not its controls", async () => {
  const { context, page, problems } = await watchedPage(browser, ORIGIN);
  await signIn(page, process.env.CANOPY_READER);
  for (const [hash, heading] of [["#/overview", "Overview"], ["#/devices", "Devices"], ["#/fields", "Fields"],
    ["#/models", "Models"], ["#/loop", "Data and loop"]])
    await open(page, hash, heading);
  await open(page, `#/deployments/${DEPLOYMENT}`, /^Deployment \d+/);
  assert.equal(await page.getByRole("button", { name: /Pause|Resume|Abort|Roll back/ }).count(), 0);
  await page.getByText("need the publisher role or above").waitFor();
  assert.equal(await page.getByRole("link", { name: "Users and keys" }).count(), 0, "no admin page for a reader");
  await checkAccessible(page, "the reader's deployment page");
  // Signing out ends the live updates: no request fails afterwards.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel("User name").waitFor();
  await page.waitForTimeout(300);
  assertClean(problems, "the reader's pages");
  await context.close();
});
