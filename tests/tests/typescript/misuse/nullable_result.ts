// expect: TS18047
import type { Api } from "../api.js";

declare const found: Awaited<ReturnType<Api["find"]>>;
export const title: string = found.title; // `find` may return null
