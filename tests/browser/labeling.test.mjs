// The labeling page in real Chromium (Debian's, driven by playwright-core):
// a person signs in and labels three samples with the keyboard and the
// mouse; a reader is told the page is not for them. Every page is checked
// for console errors, requests to other origins and WCAG 2.1 A/AA
// violations (axe-core). The server and its samples are set up by
// tests/integration/labeling_test.cpp, which runs this file and then checks
// the stored labels.
//
// Environment: CANOPY_URL, CANOPY_LABELER, CANOPY_READER, CANOPY_PASSWORD,
// CANOPY_SAMPLES (the sample ids in queue order, comma-separated),
// CHROMIUM (default /usr/bin/chromium), and CANOPY_SCREENSHOT_DIR when the
// labeling page's picture should be saved (docs/screenshots).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launchBrowser, watchedPage as watched, checkAccessible, assertClean } from "./support.mjs";

const URL_BASE = process.env.CANOPY_URL;
const ORIGIN = new URL(URL_BASE).origin;
const SAMPLES = (process.env.CANOPY_SAMPLES || "").split(",");
const PASSWORD = process.env.CANOPY_PASSWORD;

let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

const watchedPage = () => watched(browser, ORIGIN);

async function signIn(page, user) {
  await page.goto(`${URL_BASE}/label/`);
  await page.getByLabel("User name").waitFor();
  await page.keyboard.type(user); // the user name field has the focus
  await page.keyboard.press("Tab");
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press("Enter");
}

async function waitForSample(page, sampleId) {
  await page.locator("#about dd", { hasText: sampleId }).waitFor({ timeout: 10000 });
  await page.locator("#image").evaluate((img) => img.decode());
}

async function boxNames(page) {
  return page.locator("#box-list .box-name").allTextContents();
}

// A drag on the image between two points in 0-1 coordinates.
async function drag(page, from, to) {
  const rect = await page.locator("#overlay").boundingBox();
  const at = (p) => [rect.x + p[0] * rect.width, rect.y + p[1] * rect.height];
  await page.mouse.move(...at(from));
  await page.mouse.down();
  for (let step = 1; step <= 5; ++step)
    await page.mouse.move(...at([from[0] + ((to[0] - from[0]) * step) / 5, from[1] + ((to[1] - from[1]) * step) / 5]));
  await page.mouse.up();
}

test("a labeler labels three samples with the keyboard and the mouse", async () => {
  const { context, page, problems } = await watchedPage();
  await page.goto(`${URL_BASE}/label/`);
  await page.getByLabel("User name").waitFor();
  await checkAccessible(page, "the sign-in form");

  await signIn(page, process.env.CANOPY_LABELER);
  await waitForSample(page, SAMPLES[0]);
  assert.deepEqual(await boxNames(page), ["diseased 0.82, proposed", "healthy 0.64, proposed"],
    "the pre-labels at or above the 0.50 threshold are listed");
  await checkAccessible(page, "the labeling page");

  // The threshold slider shows the third pre-label (0.21), and hides it again.
  await page.locator("#threshold").focus();
  for (let i = 0; i < 6; ++i) await page.keyboard.press("ArrowLeft");
  assert.equal((await boxNames(page)).length, 3);
  for (let i = 0; i < 6; ++i) await page.keyboard.press("ArrowRight");
  assert.equal((await boxNames(page)).length, 2);
  await page.locator("#viewport").focus();

  // 1: the model was right: accept all, submit.
  await page.keyboard.press("a");
  assert.deepEqual(await boxNames(page), ["diseased 0.82, accepted", "healthy 0.64, accepted"]);
  await page.keyboard.press("Control+Enter");
  await waitForSample(page, SAMPLES[1]);

  // 2: reject the diseased box, make the healthy one water-stressed, draw the plant the model missed.
  await page.keyboard.press("j");
  await page.keyboard.press("x");
  await page.keyboard.press("j");
  await page.keyboard.press("3");
  await drag(page, [0.75, 0.3], [0.95, 0.6]);
  assert.deepEqual(await boxNames(page), ["diseased 0.82, rejected", "water_stressed 0.64, accepted", "healthy, added"]);
  await page.keyboard.press("Control+Enter");
  await waitForSample(page, SAMPLES[2]);

  // 3: copy the previous image's boxes, add one with the keyboard, nudge it, resize, undo the resize.
  await page.keyboard.press("c");
  await page.keyboard.press("n");
  await page.keyboard.press("2");
  await page.keyboard.press("ArrowRight");
  await page.keyboard.press("ArrowRight");
  await page.keyboard.press("Alt+ArrowDown");
  await page.keyboard.press("Control+z");
  assert.deepEqual(await boxNames(page), ["water_stressed, added", "healthy, added", "diseased, added"]);
  if (process.env.CANOPY_SCREENSHOT_DIR)
    await page.screenshot({ path: `${process.env.CANOPY_SCREENSHOT_DIR}/labeling-page.png` });
  await page.keyboard.press("Control+Enter");
  await waitForSample(page, SAMPLES[3]);

  // Going back shows what was just submitted, as a new revision would start from it.
  await page.keyboard.press("d");
  await waitForSample(page, SAMPLES[2]);
  assert.equal((await boxNames(page)).length, 3);

  // The session reaches no admin route.
  for (const path of ["/api/v1/keys", "/api/v1/users", "/api/v1/samples"]) {
    const response = await context.request.get(`${URL_BASE}${path}`);
    assert.equal(response.status(), 403, path);
  }
  assertClean(problems, "the labeling page");
  await context.close();
});

test("a reader is told the page is not for them", async () => {
  const { context, page, problems } = await watchedPage();
  await signIn(page, process.env.CANOPY_READER);
  await page.locator("#not-a-labeler").waitFor();
  assert.equal(await page.locator("#workspace").isHidden(), true);
  await checkAccessible(page, "the reader's page");
  const response = await context.request.post(`${URL_BASE}/api/v1/labeling/next`, { data: {} });
  assert.equal(response.status(), 403, "and the API refuses the reader");
  assertClean(problems, "the reader's page");
  await context.close();
});
