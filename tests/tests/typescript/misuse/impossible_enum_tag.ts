// expect: TS2322
import type { Change } from "../api.js";

export const change: Change = { kind: "renamed", id: 1 }; // no such kind
