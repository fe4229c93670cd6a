// A client of the reference implementation (npm capnweb), typed by the generated declarations
// (api.ts). tests/typescript.rs checks that it compiles with `tsc --strict`.
import { newHttpBatchRpcSession, newWebSocketRpcSession, RpcTarget } from "capnweb";
import type { Api, Change, Listener, Page, Todo } from "./api.js";

/** The callback the server calls on every change. */
class Printer extends RpcTarget implements Listener {
  count = 0;

  onChange(change: Change): void {
    switch (change.kind) {
      case "added":
        console.log("added", change.todo.title, change.todo.priority);
        break;
      case "completed":
        console.log("completed", change.id, "by", change.by);
        break;
      case "removed":
        console.log("removed", change.id);
        break;
    }
    this.count += 1;
  }

  async seen(): Promise<number> {
    return this.count;
  }
}

export async function overWebSocket(url: string): Promise<void> {
  const api = newWebSocketRpcSession<Api>(url);

  const milk = await api.add("milk", "RIGHT_NOW");
  await api.add("bread"); // the trailing optional parameter left out
  await api.add("eggs", null);
  const id: number = milk.id;
  const revision: bigint = milk.revision;
  const doneAt: Date | null = milk.doneAt;
  console.log(id, revision, doneAt, milk.tags.join(","));

  const found = await api.find(id);
  if (found !== null) {
    console.log(found.title.toUpperCase());
  }
  const byTag = await api.list("groceries");
  const byIds = await api.list([1, 2, 3]);
  const all = await api.list();
  console.log(byTag.length + byIds.length + all.length);

  // The reference's stub types give object results as `any`: name the declared type.
  const page: Page<Todo> = await api.page();
  const next: number | null = page.nextCursor;
  console.log(page.items.map((todo) => todo.title), next);

  await api.complete(id, new Date());
  const counts = await api.counts();
  console.log(counts["groceries"]);

  // Pipelined: `whoami` is sent before `session` has returned.
  const me: string = await api.session("alice").whoami();
  console.log(me);

  const welcome = await api.login("carol");
  console.log(welcome.motd, await welcome.session.whoami());

  await api.subscribe(new Printer());

  const items = await api.exportAll();
  const reader = items.getReader();
  for (let next = await reader.read(); !next.done; next = await reader.read()) {
    const todo: Todo = next.value;
    console.log(todo.title);
  }
  const lines = new ReadableStream<string>({
    start(controller) {
      controller.enqueue("buy milk");
      controller.close();
    },
  });
  const imported: number = await api.importLines(lines);
  const upload = await api.upload(id);
  const writer = upload.getWriter();
  await writer.write(new Uint8Array([1, 2, 3]));
  await writer.close();
  const attachment = await api.attachment(id);
  console.log(imported, attachment?.byteLength);
  const file = await api.exportFile();
  console.log(await file.text());
  const total: bigint = await api.totalBytes();
  const version: string = await api.version;
  console.log(total, version);
}

export async function overHttpBatch(url: string): Promise<void> {
  // One POST: both calls, the second pipelined on a stub the first returns.
  const batch = newHttpBatchRpcSession<Api>(url);
  const session = batch.session("bob");
  const [todo, me] = await Promise.all([batch.add("tea"), session.whoami()]);
  console.log(todo.title, me);
}

// The declarations themselves, without a stub in between.
type Added = Awaited<ReturnType<Api["add"]>>;
export const titleOf = (todo: Added): string => todo.title;
