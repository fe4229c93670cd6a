// expect: TS2322
import type { Api } from "../api.js";

declare const added: Awaited<ReturnType<Api["add"]>>;
export const id: string = added.id; // an id is a number
