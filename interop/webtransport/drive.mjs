// Drives interop/webtransport/page.ts in Debian's Chromium (headless, playwright-core): opens
// the page at argv[2], prints every console line, and exits 0 once the page logs `result ...`,
// 1 if it logs `FAIL ...` or a page error, 2 past the timeout (argv[3] ms, default 60000).
import { launchChromium } from "../browser/chromium.mjs";

const [pageUrl, timeoutArg] = process.argv.slice(2);
const timeout = Number(timeoutArg ?? 60000);
const browser = await launchChromium();
let outcome = null;
try {
  console.log(`chromium ${browser.version()}`);
  const page = await browser.newPage();
  page.on("console", (message) => {
    const text = message.text();
    console.log(`[console.${message.type()}] ${text}`);
    if (text.startsWith("result ")) outcome ??= { code: 0, line: text };
    if (text.startsWith("FAIL ")) outcome ??= { code: 1, line: text };
  });
  page.on("pageerror", (error) => {
    console.log(`[pageerror] ${error.message}`);
    outcome ??= { code: 1, line: `FAIL page error: ${error.message}` };
  });
  await page.goto(pageUrl);
  const deadline = Date.now() + timeout;
  while (!outcome && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
} finally {
  await browser.close();
}
if (!outcome) {
  console.log(`FAIL the page did not finish within ${timeout} ms`);
  process.exit(2);
}
console.log(outcome.line);
process.exit(outcome.code);
