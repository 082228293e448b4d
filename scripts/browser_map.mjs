// The map with a base map, in headless Chromium: a demo server started with `--map-tiles`
// pointing at the local tile server (scripts/tile_server.mjs) the browser test started. Tiles
// load from it and from nowhere else; grids and communities are named; a click, Enter on the
// map, "use my location" and a place search each choose the place and name it before the
// report is sent; the public case map shows clickable cases; axe finds nothing serious.
//
// Usage: node browser_map.mjs BASE_URL TILE_ORIGIN SCREENSHOT_DIR
import { chromium } from "playwright-core";
import { readFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";

const [base, tileOrigin, shots] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

let steps = 0;
function check(cond, what) {
  if (!cond) {
    throw new Error(`FAIL: ${what}`);
  }
  steps += 1;
}

async function audit(page, name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() =>
    window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }),
  );
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  check(bad.length === 0, `axe ${name}: ${bad.map((v) => `${v.id} (${v.nodes.length}): ${v.nodes[0].target}`).join("; ")}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});

// Every request a page makes goes to the platform or to the tile server, nowhere else.
function watch(page, seen) {
  page.on("request", (r) => {
    const origin = new URL(r.url()).origin;
    if (origin !== base && origin !== tileOrigin && !r.url().startsWith("data:")) {
      seen.outside.push(r.url());
    }
    if (origin === tileOrigin) {
      seen.tiles += 1;
    }
  });
}

try {
  for (const [label, viewport, mobile] of [["desktop", { width: 1280, height: 900 }, false], ["phone", { width: 390, height: 844 }, true]]) {
    // A resident somewhere inside the first grid: the browser tells the page where.
    const context = await browser.newContext({
      viewport, isMobile: mobile, locale: "zh-CN",
      geolocation: { longitude: 113.9171, latitude: 22.5168 }, permissions: ["geolocation"],
    });
    const page = await context.newPage();
    const seen = { outside: [], tiles: 0 };
    watch(page, seen);
    await page.goto(`${base}/report?category=01001`);
    await page.waitForSelector(".leaflet-tile-loaded", { timeout: 15000 });
    check(seen.tiles > 0, `${label}: tiles come from the deployment's tile server`);
    check(await page.locator(".map-wrap svg.map").isHidden(), `${label}: the SVG map gives way to the base map`);
    await page.waitForSelector(".map-label-community", { timeout: 10000 });
    const names = await page.locator(".map-label-community").allTextContents();
    check(names.some((n) => n.endsWith("社区")), `${label}: communities are named on the map (${names.slice(0, 3)})`);

    // "Use my location".
    await page.click(".map-locate-me");
    await page.waitForFunction(() => document.querySelector("#place-chosen")?.textContent.includes("社区"));
    check((await page.inputValue("#lon")).startsWith("113.917"), `${label}: my location fills the longitude`);
    const chosen = await page.locator("#place-chosen").textContent();
    check(chosen.includes("网格"), `${label}: the grid chosen is named before sending: ${chosen}`);

    // A click on the map.
    await page.fill("#lon", "");
    const box = await page.locator(".map-leaflet").boundingBox();
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await page.waitForFunction(() => document.querySelector("#lon").value !== "");
    check(/^1\d\d\.\d{6}$/.test(await page.inputValue("#lon")), `${label}: a click gives the longitude to 6 places`);

    // Enter on the focused map chooses its centre: the map works by keyboard.
    await page.fill("#lon", "");
    await page.focus(".map-leaflet");
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => document.querySelector("#lon").value !== "");
    check(true, `${label}: Enter on the map chooses its centre`);

    // The place search, by a community's name.
    const community = names.find((n) => n.endsWith("社区"));
    await page.fill(".map-search input[type=search]", community);
    await page.keyboard.press("Enter");
    await page.waitForSelector(".map-search-results button", { timeout: 10000 });
    await page.fill("#lon", "");
    await page.locator(".map-search-results button").first().click();
    // The place is named once the platform has located it.
    await page.waitForFunction((c) => document.querySelector("#place-chosen")?.textContent.includes(c), community, { timeout: 10000 });
    check((await page.inputValue("#lon")) !== "", `${label}: a place found by name is chosen`);

    await page.screenshot({ path: join(shots, `map-report-${label}.png`), fullPage: false });
    await audit(page, `report map ${label}`);
    check(seen.outside.length === 0, `${label}: nothing fetched from outside: ${seen.outside.slice(0, 3)}`);
    await context.close();
  }

  // The public case map: cases as markers or clusters that open.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "zh-CN" });
  const page = await context.newPage();
  const seen = { outside: [], tiles: 0 };
  watch(page, seen);
  await page.goto(`${base}/cases?status=open`);
  await page.waitForSelector(".leaflet-tile-loaded", { timeout: 15000 });
  await page.waitForSelector(".map-case, .map-cluster", { timeout: 10000 });
  const marks = await page.locator(".map-case, .map-cluster").count();
  check(marks > 0, `the public map shows ${marks} cases or clusters`);
  // A case (or a cluster, which zooms in until cases come apart) inside the map's view is
  // selected by keyboard, as anyone may: focus and Enter.
  const inView = async (selector) => page.evaluate((sel) => {
    const map = document.querySelector(".map-leaflet").getBoundingClientRect();
    const all = Array.from(document.querySelectorAll(sel));
    const i = all.findIndex((e) => {
      const r = e.getBoundingClientRect();
      return r.left >= map.left && r.right <= map.right && r.top >= map.top && r.bottom <= map.bottom;
    });
    if (i >= 0) { all[i].setAttribute("data-picked", "1"); }
    return i >= 0;
  }, selector);
  for (let tries = 0; tries < 6 && !(await inView(".map-case")); tries++) {
    check(await inView(".map-cluster"), "a cluster in view to zoom into");
    await page.focus(".map-cluster[data-picked]");
    await page.keyboard.press("Enter");
    await page.waitForSelector(".map-cluster[data-picked]", { state: "detached", timeout: 10000 });
  }
  check(await page.locator(".map-case[data-picked]").count() === 1, "zooming in separated a case to open");
  await page.focus(".map-case[data-picked]");
  await page.keyboard.press("Enter");
  await page.waitForSelector(`.leaflet-popup a[href^='${base}/cases/']`, { timeout: 10000 });
  check(true, "a case on the map opens to its public page");
  await page.screenshot({ path: join(shots, "map-public-cases.png"), fullPage: false });
  await audit(page, "public case map");
  check(seen.outside.length === 0, `public map: nothing fetched from outside: ${seen.outside.slice(0, 3)}`);
  await context.close();
  console.log(`browser map: ${steps} checks passed`);
} finally {
  await browser.close();
}
