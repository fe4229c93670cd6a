// Drives Debian's Chromium (headless, through playwright-core) on a page of one origin that
// calls a Cap'n Web service at another: tests/tests/browser.rs serves the page and the
// service, and reads the one `result {...}` line this prints.
//
//   node cross-origin.mjs PAGE_URL SCENARIO API_URL [SCREENSHOT.png]
//
// SCENARIO is `attack` (a raw WebSocket, a no-cors text/plain POST and a CORS POST: what any
// page can try) or `use` (a raw WebSocket, a CORS POST with a preflight, and the reference's
// client over both transports), or `bearer` (same-origin.html, served by the server it calls:
// WebSockets offering a token as the subprotocols ["capnweb.bearer", token], API_URL's `#`
// fragment). A failure to drive the browser exits non-zero, saying why.
import { launchChromium } from "./chromium.mjs";

const [pageUrl, scenario, apiUrl, screenshot] = process.argv.slice(2);
if (!pageUrl || !["attack", "use", "bearer"].includes(scenario) || !apiUrl) {
  console.error("usage: node cross-origin.mjs PAGE_URL attack|use|bearer API_URL[#TOKEN] [SCREENSHOT.png]");
  process.exit(2);
}

const browser = await launchChromium();
try {
  const page = await browser.newPage();
  // The page's console and errors go to stderr, for a failing test's output.
  page.on("console", (message) => console.error(`page console: ${message.text()}`));
  page.on("pageerror", (error) => console.error(`page error: ${error}`));
  await page.goto(pageUrl);
  await page.waitForFunction(() => window.ready === true, null, { timeout: 20000 });
  const [base, token] = apiUrl.split("#");
  const api = { http: base, ws: base.replace(/^http/, "ws"), token };
  const result = await page.evaluate(
    ([scenario, api]) => window[scenario](api),
    [scenario, api],
  );
  if (screenshot) {
    await page.screenshot({ path: screenshot, fullPage: true });
  }
  console.log(`result ${JSON.stringify(result)}`);
} finally {
  await browser.close();
}
