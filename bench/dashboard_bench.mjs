// The devices page in Chromium, measured for dashboard_bench (which starts
// the server, enrolls the fleet and prints the table): the time from
// navigation to the first rows, the time from a keystroke in the filter to
// the filtered rows, and the compressed bytes of script and style a page
// loads. Prints one JSON line.
//
// Environment: CANOPY_URL, CANOPY_USER, CANOPY_PASSWORD, CANOPY_QUERIES (the
// filters typed, comma-separated), CANOPY_RUNS (navigations measured).
import { launchBrowser } from "../tests/browser/support.mjs";

const URL_BASE = process.env.CANOPY_URL;
const RUNS = Number(process.env.CANOPY_RUNS || 7);
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const browser = await launchBrowser();
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
const page = await context.newPage();
await page.goto(`${URL_BASE}/`);
await page.getByLabel("User name").fill(process.env.CANOPY_USER);
await page.getByLabel("Password").fill(process.env.CANOPY_PASSWORD);
await page.keyboard.press("Enter");
await page.getByRole("heading", { name: "Overview" }).waitFor();

// Script and style, as sent (compressed) over the wire, for one load of the devices page.
const transferred = { script: 0, stylesheet: 0 };
const sizes = [];
const counting = (request) => {
  const type = request.resourceType();
  if (type in transferred)
    sizes.push(request.sizes().then((size) => { transferred[type] += size.responseBodySize; }));
};
page.on("requestfinished", counting);
await page.goto("about:blank");
await page.goto(`${URL_BASE}/dashboard/#/devices`);
await page.locator("tbody tr").first().waitFor();
await page.waitForLoadState("networkidle");
page.off("requestfinished", counting);
await Promise.all(sizes);

// Navigation to first rows: a new load of the page each time (cached script, as a returning user has).
const first_rows_ms = [];
for (let run = 0; run < RUNS; ++run) {
  await page.goto("about:blank");
  const start = Date.now();
  await page.goto(`${URL_BASE}/dashboard/#/devices`);
  await page.locator("tbody tr").first().waitFor();
  first_rows_ms.push(Date.now() - start);
}

// A keystroke to filtered rows, timed inside the page: from the input event to the count's change.
const filter_ms = [];
for (const query of process.env.CANOPY_QUERIES.split(",")) {
  await page.getByLabel("Filter").fill("");
  await page.waitForFunction(() => !location.hash.includes("q="));
  await page.locator("tbody tr").first().waitFor();
  filter_ms.push(await page.evaluate((text) => new Promise((resolve) => {
    const count = document.querySelector("#device-count");
    const before = count.textContent;
    const input = document.querySelector("#device-filter");
    const start = performance.now();
    new MutationObserver((_, observer) => {
      if (count.textContent !== before) {
        observer.disconnect();
        resolve(performance.now() - start);
      }
    }).observe(count, { childList: true, characterData: true, subtree: true });
    input.value = text;
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }), query));
}

const total = Number((await page.locator("#device-count").textContent()).split(" ")[0]);
await browser.close();
console.log(JSON.stringify({
  first_rows_ms: median(first_rows_ms),
  first_rows_max_ms: Math.max(...first_rows_ms),
  filter_ms: median(filter_ms),
  filter_max_ms: Math.max(...filter_ms),
  script_bytes: transferred.script,
  style_bytes: transferred.stylesheet,
  last_total: total,
}));
