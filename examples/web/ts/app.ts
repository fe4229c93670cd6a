// The web example's page: a to-do list shared between users, calling the Rust server
// (examples/web) with the reference's client (npm capnweb), typed by api.ts, which is
// generated from the Rust API. esbuild bundles it into ../static/app.js; after a change here
// or in the Rust API, regenerate both with
//
//   CAPNWEB_BLESS=1 cargo test -p capnweb-tests --test web_example
import { newWebSocketRpcSession, RpcTarget, type RpcStub } from "capnweb";
import type { Listener, Login, Session, Todo } from "./api.js";

const byId = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

let session: RpcStub<Session>;
/** Who this page logged in as: empty until the session is ready. */
let me = "";

/** Called by the server on every change, anyone's: how other people's changes arrive. */
class LiveList extends RpcTarget implements Listener {
  changed(todo: Todo, by: string): void {
    show(todo, by !== me);
    if (me) void showPeople();
  }
}

async function logIn(name: string): Promise<void> {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const login = newWebSocketRpcSession<Login>(`${scheme}://${location.host}/rpc`);
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
    login[Symbol.dispose]();
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

byId("login-form").onsubmit = (event) => {
  event.preventDefault();
  void logIn(byId<HTMLInputElement>("name").value);
};
byId("add-form").onsubmit = (event) => {
  event.preventDefault();
  void add(byId<HTMLInputElement>("title").value);
};
