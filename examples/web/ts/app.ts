// The web example's page: a to-do list shared between users, calling the Rust server
// (examples/web) with the reference's client (npm capnweb), typed by api.ts, which is
// generated from the Rust API. It calls over WebSocket, or over WebTransport when opened with
// `?transport=webtransport` (through interop/webtransport/transport.ts, the URL and the
// certificate's hash read from /webtransport.json). esbuild bundles it into ../static/app.js;
// after a change here or in the Rust API, regenerate both with
//
//   CAPNWEB_BLESS=1 cargo test -p capnweb-tests --test web_example
import { newWebSocketRpcSession, RpcSession, RpcTarget, type RpcStub } from "capnweb";
import { WebTransportRpcTransport } from "../../../interop/webtransport/transport.js";
import type { Listener, Login, Session, Todo } from "./api.js";

const byId = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

let session: RpcStub<Session>;
/** Who this page logged in as: empty until the session is ready. */
let me = "";

/** How this page calls the server: `?transport=webtransport`, else WebSocket. */
const overWebTransport = new URLSearchParams(location.search).get("transport") === "webtransport";

/** What the server's /webtransport.json says. */
interface WebTransportInfo {
  url: string;
  certificateHash: string;
}

/** A new session with the server, at `Login`; `close` ends it. */
async function connect(): Promise<{ login: RpcStub<Login>; close: () => void }> {
  if (!overWebTransport) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const login = newWebSocketRpcSession<Login>(`${scheme}://${location.host}/rpc`);
    return { login, close: () => login[Symbol.dispose]() };
  }
  const response = await fetch("/webtransport.json");
  if (!response.ok) throw new Error(`This server offers no WebTransport (${response.status}).`);
  const info = (await response.json()) as WebTransportInfo;
  const hash = new Uint8Array((info.certificateHash.match(/../g) ?? []).map((h) => parseInt(h, 16)));
  const transport = await WebTransportRpcTransport.connect(info.url, {
    serverCertificateHashes: [{ algorithm: "sha-256", value: hash }],
  });
  const login = new RpcSession<Login>(transport).getRemoteMain();
  return {
    login,
    close: () => {
      login[Symbol.dispose]();
      void transport.close();
    },
  };
}

/** Called by the server on every change, anyone's: how other people's changes arrive. */
class LiveList extends RpcTarget implements Listener {
  changed(todo: Todo, by: string): void {
    show(todo, by !== me);
    if (me) void showPeople();
  }
}

async function logIn(name: string): Promise<void> {
  let login: RpcStub<Login>, close: () => void;
  try {
    ({ login, close } = await connect());
  } catch (error) {
    byId("login-error").textContent = `Cannot connect: ${messageOf(error)}`;
    console.error(`cannot connect over ${overWebTransport ? "WebTransport" : "WebSocket"}:`, error);
    return;
  }
  // Pipelined: every call below goes out before `authenticate` has answered; one round trip.
  const pending = login.authenticate(name);
  const whoami = pending.whoami();
  const todos = pending.list();
  const watching = pending.watch(new LiveList());
  const activity = pending.activity();
  let who: string, list: Todo[], log: ReadableStream<string>;
  try {
    [who, list, , log] = await Promise.all([whoami, todos, watching, activity]);
  } catch (error) {
    // An empty name: `authenticate` failed, and so did every call pipelined on it.
    close();
    byId("login-error").textContent = messageOf(error);
    return;
  }
  session = await pending;
  me = who;
  session.onRpcBroken((error) => {
    byId("error").textContent = `Disconnected: ${messageOf(error)}. Reload to log in again.`;
  });
  byId("whoami").textContent = me;
  byId("login").hidden = true;
  byId("app").hidden = false;
  list.forEach((todo) => show(todo, false));
  void showPeople();
  readActivity(log).catch(showError);
  byId("title").focus();
}

async function add(title: string): Promise<void> {
  try {
    // The server refuses an empty title; its message is shown as it is.
    show(await session.add(title), false);
    byId<HTMLInputElement>("title").value = "";
    byId("error").textContent = "";
  } catch (error) {
    byId("error").textContent = messageOf(error);
  }
}

/** Open items per person, in one round trip: `.map()` runs the per-person call on the server. */
async function showPeople(): Promise<void> {
  const people = session.people();
  const [names, open]: [string[], number[]] = await Promise.all([
    people,
    people.map((name) => session.openCount(name)),
  ]);
  byId("people").replaceChildren(
    ...names.map((name, i) => element("li", `${name}: ${open[i]} open`)),
  );
}

/** The activity log, a stream the server writes to as things happen. */
async function readActivity(stream: ReadableStream<string>): Promise<void> {
  const reader = stream.getReader();
  for (let next = await reader.read(); !next.done; next = await reader.read()) {
    byId("activity").append(element("li", next.value));
  }
}

/** Adds or updates an item's row; `live` highlights someone else's change. */
function show(todo: Todo, live: boolean): void {
  const row = element("li");
  row.dataset.id = String(todo.id);
  row.classList.toggle("done", todo.doneBy !== null);
  row.classList.toggle("live", live);
  if (todo.doneBy === null) {
    const done = element("button", "Done");
    done.onclick = () => session.complete(todo.id).catch(showError);
    row.append(done);
  }
  const by = todo.doneBy === null ? `added by ${todo.addedBy}` : `done by ${todo.doneBy}`;
  row.append(element("span", todo.title, "title"), element("span", by, "by"));
  const old = document.querySelector(`#todos li[data-id="${todo.id}"]`);
  // Items are only ever completed, never reopened: a stale copy (the list read just before a
  // change the listener already showed) must not undo a newer one.
  if (old?.classList.contains("done") && todo.doneBy === null) return;
  if (old) old.replaceWith(row);
  else byId("todos").append(row);
}

function element(tag: string, text = "", className = ""): HTMLElement {
  const node = document.createElement(tag);
  node.textContent = text; // never innerHTML: titles and names come from other users
  node.className = className;
  return node;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function showError(error: unknown): void {
  byId("error").textContent = messageOf(error);
}

{
  // Which transport this page uses, and a link to the other.
  byId("transport").textContent = overWebTransport ? "WebTransport" : "WebSocket";
  const other = byId<HTMLAnchorElement>("other-transport");
  other.textContent = overWebTransport ? "use WebSocket" : "use WebTransport";
  other.href = overWebTransport ? "?" : "?transport=webtransport";
}
byId("login-form").onsubmit = (event) => {
  event.preventDefault();
  void logIn(byId<HTMLInputElement>("name").value);
};
byId("add-form").onsubmit = (event) => {
  event.preventDefault();
  void add(byId<HTMLInputElement>("title").value);
};
